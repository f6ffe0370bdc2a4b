// The API reference page (GET /docs), generated in the browser from GET /api/openapi.json:
// operations grouped by tag, each with its parameters, request body, responses (schemas and
// examples) and an example curl; then the schemas. Only the parts of OpenAPI 3.1 that our
// document uses are rendered; nothing is fetched from elsewhere.

import { $, h, fill, icon, hydrateIcons } from './dom.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const WIDE = window.matchMedia('(min-width: 960px)');

let doc = null;

// ---- references ----------------------------------------------------------------------------

function refName(ref) {
  return ref.split('/').pop();
}

function resolve(node) {
  let current = node;
  for (let i = 0; current && current.$ref && i < 20; i++) {
    current = current.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((object, key) => (object ? object[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
  }
  return current || {};
}

/** Properties and required names of an object schema, through allOf and $ref. */
function objectShape(schema, seen = new Set()) {
  const shape = { properties: {}, required: new Set(), additional: undefined };
  const visit = (node) => {
    if (!node) return;
    if (node.$ref) {
      if (seen.has(node.$ref)) return;
      seen.add(node.$ref);
      visit(resolve(node));
      return;
    }
    for (const part of node.allOf || []) visit(part);
    Object.assign(shape.properties, node.properties || {});
    for (const name of node.required || []) shape.required.add(name);
    if (node.additionalProperties !== undefined) shape.additional = node.additionalProperties;
  };
  visit(schema);
  return shape;
}

// ---- inline text (a small, safe subset of Markdown: `code`, **bold**, paragraphs, lists) --

function inline(text) {
  const nodes = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text))) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(match[1] !== undefined ? h('code', {}, match[1]) : h('strong', {}, match[2]));
    last = pattern.lastIndex;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

function prose(text, className = 'prose') {
  if (!text) return null;
  const blocks = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines.every((line) => /^\s*- /.test(line))) {
      blocks.push(h('ul', {}, lines.map((line) => h('li', {}, inline(line.replace(/^\s*- /, ''))))));
    } else {
      blocks.push(h('p', {}, inline(lines.join(' '))));
    }
  }
  return h('div', { class: className }, blocks);
}

// ---- schemas -------------------------------------------------------------------------------

function schemaLink(ref) {
  const name = refName(ref);
  return h('a', { href: `#schema-${name}`, class: 'schema-link' }, name);
}

/** A short type, as nodes: "string (date-time)", "array of Purchase", "one of A | B", ... */
function typeLabel(schema) {
  if (!schema || typeof schema !== 'object') return ['any'];
  if (schema.$ref) return [schemaLink(schema.$ref)];
  if (schema.const !== undefined) return [h('code', {}, JSON.stringify(schema.const))];
  if (schema.oneOf || schema.anyOf) {
    const parts = schema.oneOf || schema.anyOf;
    return ['one of ', ...parts.flatMap((part, i) => [i ? ' | ' : '', ...typeLabel(part)])];
  }
  if (schema.allOf) {
    const refs = schema.allOf.filter((part) => part.$ref);
    return refs.length ? [...refs.flatMap((part, i) => [i ? ' + ' : '', schemaLink(part.$ref)]), ' + object'] : ['object'];
  }
  let type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type || (schema.properties ? 'object' : 'any');
  if (type === 'array') return ['array of ', ...typeLabel(schema.items)];
  if (schema.format) type += ` (${schema.format})`;
  return [type];
}

/** Constraints worth a reader's eye, as a list of nodes. */
function constraints(schema) {
  const out = [];
  const s = schema.$ref ? {} : schema;
  if (s.enum) out.push(h('span', {}, 'one of ', s.enum.flatMap((v, i) => [i ? ', ' : '', h('code', {}, JSON.stringify(v))])));
  if (s.pattern) out.push(h('span', {}, 'pattern ', h('code', {}, s.pattern)));
  if (s.minLength !== undefined || s.maxLength !== undefined) out.push(h('span', {}, `length ${s.minLength ?? 0}–${s.maxLength ?? '∞'}`));
  if (s.minimum !== undefined || s.maximum !== undefined) out.push(h('span', {}, `${s.minimum ?? '−∞'} … ${s.maximum ?? '∞'}`));
  if (s.default !== undefined) out.push(h('span', {}, 'default ', h('code', {}, JSON.stringify(s.default))));
  if (s.maxItems !== undefined) out.push(h('span', {}, `at most ${s.maxItems} items`));
  return out;
}

/** A table of an object's properties; nested objects are rendered inside, refs are links. */
function propertiesTable(schema, depth = 0) {
  const shape = objectShape(schema);
  const names = Object.keys(shape.properties);
  if (!names.length) return null;
  return h(
    'table',
    { class: 'props' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Description'))),
    h(
      'tbody',
      {},
      names.map((name) => {
        const prop = shape.properties[name];
        const nested = !prop.$ref && depth < 3 && (prop.properties || prop.allOf) ? propertiesTable(prop, depth + 1) : null;
        const itemNested = !prop.$ref && depth < 3 && prop.type === 'array' && prop.items && !prop.items.$ref && prop.items.properties ? propertiesTable(prop.items, depth + 1) : null;
        const extra = constraints(prop);
        return h(
          'tr',
          {},
          h('td', { class: 'prop-name' }, h('code', {}, name), shape.required.has(name) ? h('span', { class: 'req' }, 'required') : null),
          h('td', { class: 'prop-type' }, typeLabel(prop)),
          h(
            'td',
            { class: 'prop-desc' },
            prose(prop.description || (prop.$ref ? resolve(prop).description : ''), 'prose small'),
            extra.length ? h('p', { class: 'constraints' }, extra.flatMap((node, i) => [i ? ' · ' : '', node])) : null,
            nested,
            itemNested,
          ),
        );
      }),
    ),
  );
}

/** A schema at the top of a body or response: its name, then its fields one level deep. */
function schemaBlock(schema) {
  if (!schema) return null;
  const variants = schema.oneOf || schema.anyOf;
  if (variants) {
    return h('div', { class: 'schema' }, h('p', { class: 'schema-type' }, typeLabel(schema)), variants.map((variant) => h('div', { class: 'variant' }, schemaBlock(variant))));
  }
  const target = schema.$ref ? resolve(schema) : schema;
  const table = target.type === 'array' || (target.items && !target.properties) ? null : propertiesTable(schema);
  return h(
    'div',
    { class: 'schema' },
    h('p', { class: 'schema-type' }, typeLabel(schema), target.description && schema.$ref ? h('span', { class: 'muted' }, ` — `, inline(target.description)) : null),
    table,
  );
}

/** A named schema of components: what it is, its constraints, its fields. */
function schemaDefinition(name, schema) {
  const extra = constraints(schema);
  const variants = schema.oneOf || schema.anyOf;
  const table = variants || schema.type === 'array' ? null : propertiesTable(schema);
  return h(
    'article',
    { class: 'schema-def', id: `schema-${name}` },
    h('h3', {}, h('code', {}, name)),
    prose(schema.description, 'prose small'),
    h('p', { class: 'schema-type' }, typeLabel(schema)),
    extra.length ? h('p', { class: 'constraints' }, extra.flatMap((node, i) => [i ? ' · ' : '', node])) : null,
    schema.examples ? h('p', { class: 'constraints' }, 'e.g. ', schema.examples.flatMap((v, i) => [i ? ', ' : '', h('code', {}, JSON.stringify(v))])) : null,
    table,
  );
}

// ---- examples and curl ---------------------------------------------------------------------

function exampleValues(media) {
  if (!media) return [];
  if (media.example !== undefined) return [{ label: '', value: media.example }];
  return Object.values(media.examples || {}).map((example) => ({ label: example.summary || '', value: resolve(example).value }));
}

function codeBlock(text, label) {
  const code = h('code', {}, text);
  const copy =
    navigator.clipboard && window.isSecureContext
      ? h(
          'button',
          {
            type: 'button',
            class: 'btn btn-sm btn-ghost copy',
            'aria-label': `Copy ${label}`,
            onclick: async (event) => {
              const label = event.currentTarget.querySelector('.copy-text');
              try {
                await navigator.clipboard.writeText(text);
                label.textContent = 'Copied';
                setTimeout(() => {
                  label.textContent = 'Copy';
                }, 1500);
              } catch {
                /* the clipboard was refused: the text stays selectable */
              }
            },
          },
          icon('copy'),
          h('span', { class: 'copy-text' }, 'Copy'),
        )
      : null;
  return h('div', { class: 'code' }, h('pre', { tabindex: '0', 'aria-label': label }, code), copy);
}

function exampleText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function exampleOf(schema) {
  const s = resolve(schema);
  if (s.examples && s.examples.length) return s.examples[0];
  return undefined;
}

const shellQuote = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;

function curlFor(path, method, op, pathItem) {
  const origin = location.origin;
  const params = [...(pathItem.parameters || []), ...(op.parameters || [])].map(resolve);
  let url = path.replace(/\{([^}]+)\}/g, (_, name) => {
    const param = params.find((p) => p.name === name && p.in === 'path');
    return encodeURIComponent((param && exampleOf(param.schema)) || (name === 'sku' ? 'WIDGET-001' : name));
  });
  const query = params.filter((p) => p.in === 'query' && (p.required || p.name === 'sku'));
  if (query.length) url += `?${query.map((p) => `${p.name}=${encodeURIComponent(exampleOf(p.schema) || 'WIDGET-001')}`).join('&')}`;
  const lines = [`curl -s${op.responses && op.responses[200] && resolve(op.responses[200]).content?.['text/event-stream'] ? 'N' : ''}${method === 'get' ? '' : ` -X ${method.toUpperCase()}`} ${shellQuote(origin + url)}`];
  const security = op.security || doc.security || [];
  const scheme = security.length ? Object.keys(security[0])[0] : null;
  if (scheme === 'adminKey') lines.push(`-H "X-Admin-Key: $ADMIN_KEY"`);
  if (scheme === 'userId') lines.push(`-H 'X-User-Id: alice'`);
  if (scheme === 'bearerAuth') lines.push(`-H "Authorization: Bearer $TOKEN"`);
  const body = op.requestBody && resolve(op.requestBody).content?.['application/json'];
  if (body) {
    const value = exampleValues(body)[0];
    lines.push(`-H 'Content-Type: application/json'`);
    lines.push(`-d ${shellQuote(JSON.stringify(value ? value.value : {}))}`);
  }
  return lines.join(' \\\n  ');
}

// ---- operations ----------------------------------------------------------------------------

function securityText(op) {
  const security = op.security || doc.security || [];
  if (!security.length) return null;
  const schemes = doc.components.securitySchemes || {};
  const names = security.map((requirement) =>
    Object.keys(requirement)
      .map((key) => {
        const scheme = schemes[key] || {};
        return scheme.type === 'apiKey' ? scheme.name : scheme.scheme === 'bearer' ? 'Bearer token' : key;
      })
      .join(' + '),
  );
  return h('p', { class: 'op-auth' }, icon('lock'), ' ', names.flatMap((name, i) => [i ? ' or ' : '', h('code', {}, name)]));
}

function parametersSection(params) {
  if (!params.length) return null;
  return h(
    'section',
    { class: 'op-part' },
    h('h4', {}, 'Parameters'),
    h(
      'table',
      { class: 'props' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'In'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Description'))),
      h(
        'tbody',
        {},
        params.map((p) => {
          const extra = constraints(resolve(p.schema || {}));
          return h(
            'tr',
            {},
            h('td', { class: 'prop-name' }, h('code', {}, p.name), p.required ? h('span', { class: 'req' }, 'required') : null),
            h('td', {}, p.in),
            h('td', { class: 'prop-type' }, typeLabel(p.schema)),
            h('td', { class: 'prop-desc' }, prose(p.description, 'prose small'), extra.length ? h('p', { class: 'constraints' }, extra.flatMap((node, i) => [i ? ' · ' : '', node])) : null),
          );
        }),
      ),
    ),
  );
}

function mediaSection(content, idPrefix) {
  return Object.entries(content || {}).map(([type, media]) =>
    h(
      'div',
      { class: 'media' },
      h('p', { class: 'media-type' }, h('code', {}, type)),
      schemaBlock(media.schema),
      media['x-event-data-schema'] ? h('p', { class: 'muted small' }, 'Each event\u2019s data: ', typeLabel(media['x-event-data-schema'])) : null,
      exampleValues(media).map((example, i) =>
        h(
          'details',
          { class: 'example' },
          h('summary', {}, example.label ? `Example: ${example.label}` : 'Example'),
          codeBlock(exampleText(example.value), `${idPrefix} example ${i + 1}`),
        ),
      ),
    ),
  );
}

function responsesSection(op, id) {
  return h(
    'section',
    { class: 'op-part' },
    h('h4', {}, 'Responses'),
    Object.entries(op.responses || {}).map(([status, response]) => {
      const r = resolve(response);
      const tone = status.startsWith('2') ? 'ok' : status.startsWith('3') ? 'info' : status.startsWith('4') ? 'warn' : 'bad';
      const headers = Object.entries(r.headers || {});
      return h(
        'details',
        { class: 'response', open: status.startsWith('2') ? true : undefined },
        h('summary', {}, h('span', { class: 'status', dataset: { tone } }, status), h('span', { class: 'response-desc' }, inline(r.description || ''))),
        h(
          'div',
          { class: 'response-body' },
          headers.length
            ? h(
                'p',
                { class: 'small' },
                'Headers: ',
                headers.flatMap(([name, header], i) => [i ? ', ' : '', h('code', { title: resolve(header).description || '' }, name)]),
              )
            : null,
          mediaSection(r.content, `${id} ${status}`),
        ),
      );
    }),
  );
}

function operationArticle(path, method, op, pathItem) {
  const id = `op-${op.operationId || `${method}-${path}`}`;
  const params = [...(pathItem.parameters || []), ...(op.parameters || [])].map(resolve);
  const body = op.requestBody ? resolve(op.requestBody) : null;
  return h(
    'article',
    { class: 'op', id, dataset: { search: `${method} ${path} ${op.summary || ''} ${(op.tags || []).join(' ')}`.toLowerCase() } },
    h(
      'header',
      { class: 'op-head' },
      h('span', { class: 'method', dataset: { method } }, method.toUpperCase()),
      h('code', { class: 'op-path' }, path),
      h('a', { class: 'anchor', href: `#${id}`, 'aria-label': `Link to ${method.toUpperCase()} ${path}` }, '#'),
    ),
    h('h3', { class: 'op-summary' }, op.summary || ''),
    securityText(op),
    prose(op.description),
    parametersSection(params),
    body
      ? h('section', { class: 'op-part' }, h('h4', {}, 'Request body', body.required ? h('span', { class: 'req' }, 'required') : null), prose(body.description, 'prose small'), mediaSection(body.content, `${id} request`))
      : null,
    responsesSection(op, id),
    h('section', { class: 'op-part' }, h('h4', {}, 'Example'), codeBlock(curlFor(path, method, op, pathItem), `curl for ${method.toUpperCase()} ${path}`)),
  );
}

// ---- page ----------------------------------------------------------------------------------

function operationsByTag() {
  const groups = new Map((doc.tags || []).map((tag) => [tag.name, { tag, ops: [] }]));
  for (const [path, pathItem] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = pathItem[method];
      if (!op) continue;
      const tagName = (op.tags && op.tags[0]) || 'Other';
      if (!groups.has(tagName)) groups.set(tagName, { tag: { name: tagName }, ops: [] });
      groups.get(tagName).ops.push({ path, method, op, pathItem });
    }
  }
  return [...groups.values()].filter((group) => group.ops.length);
}

const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-');

function render() {
  const groups = operationsByTag();
  const content = $('#content');
  const schemes = Object.entries(doc.components?.securitySchemes || {});
  const schemas = Object.entries(doc.components?.schemas || {});
  document.title = `${doc.info.title} ${doc.info.version} · API reference`;

  fill(
    content,
    h(
      'section',
      { class: 'intro', id: 'intro' },
      h('p', { class: 'eyebrow' }, `OpenAPI ${doc.openapi} · version ${doc.info.version}`),
      h('h1', {}, doc.info.title),
      doc.info.summary ? h('p', { class: 'lead' }, doc.info.summary) : null,
      prose(doc.info.description),
    ),
    schemes.length
      ? h(
          'section',
          { class: 'group', id: 'authentication', 'aria-labelledby': 'authentication-title' },
          h('h2', { id: 'authentication-title' }, 'Authentication'),
          h(
            'dl',
            { class: 'schemes' },
            schemes.flatMap(([name, scheme]) => [
              h('dt', {}, h('code', {}, scheme.type === 'apiKey' ? `${scheme.name} (${scheme.in})` : `Authorization: ${scheme.scheme === 'bearer' ? 'Bearer' : scheme.scheme} ${scheme.bearerFormat || ''}`.trim()), h('span', { class: 'muted small' }, ` ${name}`)),
              h('dd', {}, prose(scheme.description, 'prose small')),
            ]),
          ),
        )
      : null,
    groups.map(({ tag, ops }) =>
      h(
        'section',
        { class: 'group', id: `tag-${slug(tag.name)}`, 'aria-labelledby': `tag-${slug(tag.name)}-title` },
        h('h2', { id: `tag-${slug(tag.name)}-title` }, tag.name),
        prose(tag.description, 'prose group-desc'),
        ops.map(({ path, method, op, pathItem }) => operationArticle(path, method, op, pathItem)),
      ),
    ),
    schemas.length
      ? h(
          'section',
          { class: 'group', id: 'schemas', 'aria-labelledby': 'schemas-title' },
          h('h2', { id: 'schemas-title' }, 'Schemas'),
          schemas.map(([name, schema]) => schemaDefinition(name, schema)),
        )
      : null,
  );
  content.removeAttribute('aria-busy');

  const nav = $('#nav');
  const details = h(
    'details',
    { class: 'nav-details', open: WIDE.matches ? true : undefined },
    h('summary', {}, 'Contents'),
    h(
      'ul',
      { class: 'nav-list' },
      h('li', {}, h('a', { href: '#intro', class: 'nav-top' }, 'Overview')),
      schemes.length ? h('li', {}, h('a', { href: '#authentication', class: 'nav-top' }, 'Authentication')) : null,
      groups.map(({ tag, ops }) =>
        h(
          'li',
          { class: 'nav-group' },
          h('a', { href: `#tag-${slug(tag.name)}`, class: 'nav-top' }, tag.name),
          h(
            'ul',
            {},
            ops.map(({ path, method, op }) =>
              h(
                'li',
                { dataset: { search: `${method} ${path} ${op.summary || ''} ${tag.name}`.toLowerCase() } },
                h('a', { href: `#op-${op.operationId}` }, h('span', { class: 'method method-sm', dataset: { method } }, method === 'delete' ? 'DEL' : method.toUpperCase()), h('span', { class: 'nav-path', title: `${method.toUpperCase()} ${path}` }, path)),
              ),
            ),
          ),
        ),
      ),
      schemas.length ? h('li', {}, h('a', { href: '#schemas', class: 'nav-top' }, 'Schemas')) : null,
    ),
  );
  fill(nav, details);
  WIDE.addEventListener('change', () => {
    details.open = WIDE.matches;
  });
  nav.addEventListener('click', (event) => {
    if (event.target.closest('a') && !WIDE.matches) details.open = false;
  });

  if (location.hash) {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }
}

function setupFilter() {
  $('#filter').addEventListener('input', (event) => {
    const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    const match = (el) => words.every((word) => el.dataset.search.includes(word));
    for (const el of document.querySelectorAll('.op, .nav-group li[data-search]')) el.hidden = !match(el);
    for (const group of document.querySelectorAll('.group')) {
      const ops = group.querySelectorAll('.op');
      if (ops.length) group.hidden = [...ops].every((op) => op.hidden);
    }
    for (const group of document.querySelectorAll('.nav-group')) group.hidden = [...group.querySelectorAll('li[data-search]')].every((li) => li.hidden);
    if (words.length) $('.nav-details').open = true;
  });
}

async function main() {
  hydrateIcons();
  setupFilter();
  try {
    const response = await fetch('/api/openapi.json', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    doc = await response.json();
  } catch (err) {
    fill($('#content'), h('div', { class: 'card' }, h('h1', {}, 'The API description could not be loaded'), h('p', { class: 'muted' }, `GET /api/openapi.json failed (${err.message}). Reload to try again.`)));
    $('#content').removeAttribute('aria-busy');
    return;
  }
  render();
}

main();
