#!/usr/bin/env python3
"""Compiles the files of a web directory into a C table, so that the binary serves them itself.

Run by Meson at build time (see meson.build):

    embed_web.py WEB_DIR OUTPUT.c DEPFILE [SYMBOL]

For every regular file under WEB_DIR (dot files and dot directories are skipped) the table holds
its URL path ("/css/app.css"), its content type, a strong ETag (the first 128 bits of the SHA-256
of its bytes, hex, quoted), the bytes, and a gzip copy made here when it is smaller than the file,
with its own ETag made the same way from the compressed bytes (another representation, another
validator).
The entries are sorted by path (bytewise), so the server can binary-search them.

The depfile names every file read and every directory walked: Ninja builds the table again when
a file changes and, through the directories' modification times, when one is added or removed.
A missing WEB_DIR gives an empty table (and the depfile names its parent, to notice it appear).

A file whose extension has no content type below stops the build: the server would otherwise
serve it as bytes of an unknown kind. The same table lives in src/http/static_files.c for
--web-root, and a unit test checks that the two agree for every embedded file.
"""

import gzip
import hashlib
import os
import sys

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}

# Bytes per line of a string literal in the output; keeps the generated file readable in a diff.
LINE_BYTES = 48


def c_string(data: bytes) -> str:
    """The bytes as adjacent C string literals. Octal escapes always have three digits, so a
    following digit can never extend one."""
    if not data:
        return '""'
    lines = []
    for start in range(0, len(data), LINE_BYTES):
        chunk = data[start : start + LINE_BYTES]
        text = []
        for byte in chunk:
            char = chr(byte)
            if char in '"\\?':
                # "?" too: two of them could start a trigraph in a compiler that still reads those
                text.append("\\%03o" % byte)
            elif 0x20 <= byte < 0x7F:
                text.append(char)
            else:
                text.append("\\%03o" % byte)
        lines.append('"' + "".join(text) + '"')
    return "\n        ".join(lines)


def collect(web_dir: str):
    files, dirs = [], []
    if not os.path.isdir(web_dir):
        # the parent's modification time changes when the directory appears
        return files, [os.path.dirname(os.path.abspath(web_dir))]
    for root, subdirs, names in os.walk(web_dir):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        dirs.append(root)
        for name in sorted(names):
            full = os.path.join(root, name)
            if name.startswith(".") or not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, web_dir).replace(os.sep, "/")
            files.append(("/" + rel, full))
    files.sort(key=lambda item: item[0].encode("utf-8"))
    return files, dirs


def entry(url_path: str, full: str) -> str:
    extension = os.path.splitext(url_path)[1].lower()
    if extension not in CONTENT_TYPES:
        raise SystemExit(
            f"embed_web: {full}: no content type for '{extension}' "
            f"(known: {', '.join(sorted(CONTENT_TYPES))}); add it here and in src/http/static_files.c"
        )
    if any(c in url_path for c in '"\\') or not url_path.isprintable():
        raise SystemExit(f"embed_web: {full}: the path must be printable and hold no quote or backslash")
    with open(full, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()[:32]
    # mtime=0: the same input always gives the same bytes, so builds are reproducible
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    if len(packed) < len(data):
        packed_digest = hashlib.sha256(packed).hexdigest()[:32]
        gzip_part = (
            f"(const unsigned char *)\n        {c_string(packed)},\n     .gzip_len = {len(packed)},\n"
            f"     .gzip_etag = \"\\\"{packed_digest}\\\"\""
        )
    else:
        gzip_part = "NULL,\n     .gzip_len = 0,\n     .gzip_etag = NULL"
    return (
        f"    {{.path = \"{url_path}\",\n"
        f"     .content_type = \"{CONTENT_TYPES[extension]}\",\n"
        f"     .etag = \"\\\"{digest}\\\"\",\n"
        f"     .body = (const unsigned char *)\n        {c_string(data)},\n"
        f"     .body_len = {len(data)},\n"
        f"     .gzip = {gzip_part}}},\n"
    )


def main(argv):
    if len(argv) not in (4, 5):
        raise SystemExit("usage: embed_web.py WEB_DIR OUTPUT.c DEPFILE [SYMBOL]")
    web_dir, output, depfile = argv[1], argv[2], argv[3]
    symbol = argv[4] if len(argv) == 5 else "web_assets"
    files, dirs = collect(web_dir)
    parts = [
        "/* Generated by scripts/embed_web.py from the web directory; do not edit. */\n",
        '#include "http/static_files.h"\n\n',
    ]
    if files:
        parts.append(f"const static_file_t {symbol}[] = {{\n")
        parts.extend(entry(url_path, full) for url_path, full in files)
        parts.append("};\n")
    else:
        # C has no empty arrays: one placeholder entry, never counted
        parts.append(f"const static_file_t {symbol}[] = {{{{.path = NULL}}}};\n")
    parts.append(f"const size_t {symbol}_count = {len(files)};\n")
    with open(output, "w", encoding="utf-8") as handle:
        handle.write("".join(parts))

    def escape(path):
        return os.path.abspath(path).replace("\\", "\\\\").replace(" ", "\\ ")

    dependencies = [escape(d) for d in dirs] + [escape(full) for _, full in files]
    with open(depfile, "w", encoding="utf-8") as handle:
        handle.write(escape(output) + ": " + " \\\n  ".join(dependencies) + "\n")


if __name__ == "__main__":
    main(sys.argv)
