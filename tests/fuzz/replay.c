/* Runs a fuzz target once on every file named, or in the directories named (its corpus). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    unsigned char *data;
    long size;

    if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 ||
        fseek(file, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (file != NULL)
            fclose(file);
        return -1;
    }
    /* a private copy of exactly size bytes, so that ASan catches a read past the input */
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL || fread(data, 1, (size_t)size, file) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        fclose(file);
        return -1;
    }
    fclose(file);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat info;
    struct dirent *entry;
    DIR *dir;
    int result = 0;

    if (stat(path, &info) != 0) {
        fprintf(stderr, "replay: no such file or directory %s\n", path);
        return -1;
    }
    if (!S_ISDIR(info.st_mode)) {
        ++*count;
        return run_file(path);
    }
    if ((dir = opendir(path)) == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL) {
        char child[4096];
        if (entry->d_name[0] == '.')
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
        result |= run_path(child, count);
    }
    closedir(dir);
    return result;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int result = 0;

    for (int i = 1; i < argc; ++i)
        result |= run_path(argv[i], &count);
    if (count == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    printf("replay: %zu inputs\n", count);
    return result == 0 ? 0 : 1;
}
