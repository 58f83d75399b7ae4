"""The explorer's pages: one self-contained HTML file per model (no network, opens from disk)
with the data inlined as JSON and drawn by plain JavaScript and inline SVG — a sortable table of
every dimension and, on opening `#dim=N`, that dimension's card built then (768 dimensions stay
quick) — and an index comparing the models' scores. Every corpus string reaches the page as
text (textContent), never as HTML."""
import html
import json

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1150px;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;
vertical-align:top}th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}tr.row:hover{background:#eef4ff;
cursor:pointer}.num{text-align:right;font-variant-numeric:tabular-nums}.flag{color:#b00}.muted{color:#666}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}.card{border:1px solid #ccc;border-radius:6px;
padding:.8em 1.2em;margin:1em 0;background:#fcfcfc}.sent{margin:.2em 0}.cls{color:#555;font-size:.9em}
a{color:#0645ad}svg text{font-size:10px;fill:#444}#summary-wrap{max-height:480px;overflow:auto;
border:1px solid #ddd}
"""

SCRIPT = r"""
const data = JSON.parse(document.getElementById('data').textContent);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return node;
}
function fmt(v, digits) { return v == null ? '–' : (typeof v === 'number' ? v.toFixed(digits ?? 3) : String(v)); }
const columns = [
  ['dim', 'dimension', c => c.dim], ['on_rate', 'on for', c => c.on_rate],
  ['flag', 'flag', c => c.flag || ''], ['words', 'top words (on vs off)', c => c.words_over.slice(0, 5).map(w => w.word).join(' ')],
  ['best_class', 'best class', c => c.best_class ?? ''], ['purity', 'purity', c => c.purity],
  ['nmi', 'NMI', c => c.nmi], ['npmi', 'NPMI (proxy)', c => c.npmi]];
let sortKey = 'dim', ascending = true;
function drawSummary() {
  const head = el('tr', {});
  for (const [key, label] of columns) {
    if (!data.labelled && ['best_class', 'purity', 'nmi'].includes(key)) continue;
    const th = el('th', {'data-key': key}, label + (sortKey === key ? (ascending ? ' ▲' : ' ▼') : ''));
    th.addEventListener('click', () => { ascending = sortKey === key ? !ascending : true; sortKey = key; drawSummary(); });
    head.append(th);
  }
  const getter = columns.find(c => c[0] === sortKey)[2];
  const rows = [...data.cards].sort((a, b) => {
    const x = getter(a), y = getter(b);
    if (x == null && y == null) return 0; if (x == null) return 1; if (y == null) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
  });
  const body = el('tbody', {});
  for (const c of rows) {
    const tr = el('tr', {class: 'row', 'data-dim': c.dim});
    for (const [key, , get] of columns) {
      if (!data.labelled && ['best_class', 'purity', 'nmi'].includes(key)) continue;
      const v = get(c);
      const cell = el('td', {class: typeof v === 'number' ? 'num' + (key === 'flag' ? ' flag' : '') : (key === 'flag' ? 'flag' : '')},
        key === 'on_rate' ? (100 * v).toFixed(1) + ' %' : (typeof v === 'number' && key !== 'dim' ? fmt(v) : v));
      tr.append(cell);
    }
    tr.addEventListener('click', () => { location.hash = 'dim=' + c.dim; });
    body.append(tr);
  }
  const table = document.getElementById('summary');
  table.replaceChildren(el('thead', {}, head), body);
}
function histogram(h, title) {
  const w = 480, ht = 120, pad = 22;
  const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
  const x = v => pad + (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (w - 2 * pad);
  // Close quantiles would print their labels over each other: each label takes the first row it fits.
  const rowEnds = [], labels = Object.entries(h.quantiles).sort((a, b) => a[1] - b[1]).map(([q, v]) => {
    const text = 'q' + q, left = Math.min(x(v) + 2, w - 6.5 * text.length);
    let row = rowEnds.findIndex(end => end < left);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = left + 6.5 * text.length + 3;
    return {q, v, text, left, row};
  });
  const top = 24 + 11 * Math.max(1, rowEnds.length);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', w); svg.setAttribute('height', ht + top + pad);
  svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', title);
  if (!h.counts.length) return svg;
  const max = Math.max(...h.counts);
  const ns = 'http://www.w3.org/2000/svg';
  h.counts.forEach((n, i) => {
    const r = document.createElementNS(ns, 'rect');
    const x0 = x(h.edges[i]), x1 = x(h.edges[i + 1]), hh = max ? n / max * ht : 0;
    r.setAttribute('x', x0); r.setAttribute('width', Math.max(1, x1 - x0 - 1));
    r.setAttribute('y', top + ht - hh); r.setAttribute('height', hh); r.setAttribute('fill', '#6a8fc7');
    const tip = document.createElementNS(ns, 'title');
    tip.textContent = `${fmt(h.edges[i])} to ${fmt(h.edges[i + 1])}: ${n}`; r.append(tip); svg.append(r);
  });
  for (const {q, v, text, left, row} of labels) {
    const l = document.createElementNS(ns, 'line'), y = top - 6 - 11 * row;
    l.setAttribute('x1', x(v)); l.setAttribute('x2', x(v)); l.setAttribute('y1', y + 2); l.setAttribute('y2', top + ht);
    l.setAttribute('stroke', q === '0.5' ? '#c00' : '#e88'); l.setAttribute('stroke-dasharray', '3,2'); svg.append(l);
    const t = document.createElementNS(ns, 'text'); t.setAttribute('x', left); t.setAttribute('y', y);
    t.textContent = text; svg.append(t);
  }
  for (const [v, anchor] of [[lo, 'start'], [hi, 'end']]) {
    const t = document.createElementNS(ns, 'text'); t.setAttribute('x', x(v)); t.setAttribute('y', top + ht + 14);
    t.setAttribute('text-anchor', anchor); t.textContent = fmt(v, 2); svg.append(t);
  }
  const t = document.createElementNS(ns, 'text'); t.setAttribute('x', w / 2); t.setAttribute('y', 11);
  t.setAttribute('text-anchor', 'middle'); t.textContent = title; svg.append(t);
  return svg;
}
function sentences(list) {
  if (!list.length) return el('p', {class: 'muted'}, 'none');
  const box = el('div', {});
  for (const s of list) {
    box.append(el('div', {class: 'sent'}, el('span', {class: 'num'}, fmt(s.value) + '  '),
      s.class != null ? el('span', {class: 'cls'}, '[' + s.class + '] ') : '', s.text));
  }
  return box;
}
function wordTable(list) {
  const t = el('table', {}, el('tr', {}, el('th', {}, 'word'), el('th', {}, 'z'), el('th', {}, 'sentences on')));
  for (const w of list) t.append(el('tr', {}, el('td', {}, w.word), el('td', {class: 'num'}, fmt(w.z, 2)),
    el('td', {class: 'num'}, w.on)));
  return t;
}
function drawCard(dim) {
  const box = document.getElementById('card');
  const c = data.cards[dim];
  if (!c) { box.replaceChildren(); return; }
  const parts = [el('h2', {}, `Dimension ${c.dim}` + (c.flag ? ` (${c.flag})` : '')),
    el('p', {}, `On for ${(100 * c.on_rate).toFixed(1)} % of the sentences` +
      (c.spike_probability != null ? `; mean spike probability E[γ] ${fmt(c.spike_probability)}` : '') +
      `. On: ${data.on_definition}.`),
    el('div', {class: 'grid'}, histogram(c.values, 'value E[z] across sentences'),
      histogram(c.on_scores, data.on_definition.startsWith('E[γ]') ? 'on-probability 1 − E[γ] across sentences'
        : 'on-score |E[z]| / training std across sentences'))];
  parts.push(el('div', {class: 'grid'},
    el('div', {}, el('h3', {}, 'Switches it on most, positive'), sentences(c.top_positive)),
    el('div', {}, el('h3', {}, 'Switches it on most, negative'), sentences(c.top_negative))));
  const bands = el('div', {}, el('h3', {}, 'Random sentences from each band of its values (where on)'));
  for (const b of c.bands) bands.append(el('p', {class: 'muted'}, `band ${b.band}: ${fmt(b.low)} to ${fmt(b.high)}`),
    sentences(b.sentences));
  parts.push(bands, el('h3', {}, 'Where it is off'), sentences(c.off));
  parts.push(el('div', {class: 'grid'},
    el('div', {}, el('h3', {}, 'Words over-represented where on (log-odds z, informative Dirichlet prior)'), wordTable(c.words_over)),
    el('div', {}, el('h3', {}, 'Words under-represented where on'), wordTable(c.words_under))));
  parts.push(el('p', {}, `Coherence of its top words: NPMI ${fmt(c.npmi)} over the training sentences (a proxy).`));
  if (c.classes) {
    const t = el('table', {}, el('tr', {}, el('th', {}, 'class'), el('th', {}, 'P(on | class)'), el('th', {}, 'lift'),
      el('th', {}, 'AUROC')));
    for (const k of c.classes) t.append(el('tr', {}, el('td', {}, k.class), el('td', {class: 'num'}, fmt(k.p_on)),
      el('td', {class: 'num'}, fmt(k.lift, 2)), el('td', {class: 'num'}, fmt(k.auroc))));
    parts.push(el('h3', {}, `Classes: P(on) ${fmt(c.on_rate)}, purity ${fmt(c.purity)} (${c.best_class ?? '–'}), NMI ${fmt(c.nmi)}`), t);
  }
  const co = el('p', {}, 'Switches on with it: ');
  if (!c.co_active.length) co.append('none');
  for (const o of c.co_active) {
    const a = el('a', {href: '#dim=' + o.dim}, 'dimension ' + o.dim);
    co.append(a, ` (P(on | this on) ${fmt(o.p_on_given_this)}, lift ${fmt(o.lift, 2)})  `);
  }
  parts.push(co);
  box.replaceChildren(el('div', {class: 'card'}, ...parts));
}
function route() {
  const m = /^#dim=(\d+)$/.exec(location.hash);
  drawCard(m ? Number(m[1]) : -1);
}
drawSummary();
window.addEventListener('hashchange', () => { route(); document.getElementById('card').scrollIntoView(); });
route();
"""


def _json(data) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' left to end the element or open a comment."""
    return (json.dumps(data, ensure_ascii=False, allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def model_page(title: str, explored: dict, scores: dict) -> str:
    """The page of one model's dimensions."""
    summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in scores.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="muted">{explored['dimensions']} dimensions over {explored['sentences']} sentences; on: {html.escape(explored['on_definition'])}.
Scores over active dimensions: {html.escape(summary)}. Click a row (or open <code>#dim=N</code>) for a dimension's card.
NPMI is a proxy for coherence.</p>
<div id="summary-wrap"><table id="summary"></table></div>
<div id="card"></div>
<script type="application/json" id="data">{_json(explored)}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def index_page(title: str, models: dict) -> str:
    """The models side by side: name -> (page file, scores)."""
    keys = ["active_dimensions", "dead", "always_on", "active_per_sentence", "mean_purity", "mean_nmi", "mean_npmi"]
    head = "".join(f"<th>{html.escape(k.replace('_', ' '))}</th>" for k in keys)
    rows = "".join(
        f'<tr><td><a href="{html.escape(page)}">{html.escape(name)}</a></td>'
        + "".join(f'<td class="num">{"–" if s.get(k) is None else html.escape(str(s[k]))}</td>' for k in keys)
        + "</tr>" for name, (page, s) in models.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="muted">Per model: dimensions neither dead (on for under 1 % of the sentences) nor always on (over 99 %),
the mean number of dimensions on per sentence, and over the active dimensions the mean purity (the largest
class share among the sentences where a dimension is on), NMI between on/off and the class, and NPMI of its
top words (a coherence proxy).</p>
<table><tr><th>model</th>{head}</tr>{rows}</table>
</body></html>
"""
