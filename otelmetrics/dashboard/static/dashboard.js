// The metricsbridge dashboard: fetches the JSON summary beside this page and
// draws its five panels as SVG. No library, no inline code, nothing from the
// data is ever parsed as HTML (textContent and attributes only).
'use strict';

(function () {
  const TOKEN_KEY = 'metricsbridge.token';
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 640, H = 220, PAD = { l: 56, r: 12, t: 12, b: 28 };
  const $ = (id) => document.getElementById(id);

  let timer = null;
  let rows = [];
  let sortKey = 'requests';
  let sortDir = 'descending';

  // Formats shared by the charts, the tables and the totals.
  const fmt = {
    rate: (v) => (v == null ? '–' : v.toFixed(2)),
    pct: (v) => (v == null ? '–' : (v * 100).toFixed(2) + ' %'),
    ms: (v) => (v == null ? '–' : (v * 1000).toFixed(1) + ' ms'),
    int: (v) => String(v),
    time: (s) => new Date(s).toISOString().slice(11, 19),
  };

  function setState(state, message, isError) {
    document.body.dataset.state = state;
    const st = $('status');
    st.textContent = message || '';
    st.classList.toggle('error', !!isError);
  }

  function askToken(reason) {
    clearTimeout(timer);
    $('panels').hidden = true;
    $('login').hidden = false;
    $('forget').hidden = true;
    $('login-reason').textContent = reason || '';
    setState('login', 'A bearer token is needed to read the metrics.', false);
    $('token').focus();
  }

  async function reasonOf(resp) {
    try {
      const body = await resp.json();
      const parts = [body.error, body.message].filter((x) => typeof x === 'string' && x !== '');
      if (parts.length) return parts.join(': ');
    } catch (e) { /* not JSON: the status line says enough */ }
    return resp.statusText || 'refused';
  }

  async function load() {
    clearTimeout(timer);
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    let resp;
    try {
      resp = await fetch('summary', { headers, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      setState('error', 'The bridge cannot be reached: ' + e.message + '. Retrying…', true);
      timer = setTimeout(load, 5000);
      return;
    }
    if (resp.status === 401 || resp.status === 403) {
      const reason = await reasonOf(resp);
      if (!token) {
        askToken('');
        return;
      }
      sessionStorage.removeItem(TOKEN_KEY);
      askToken('The token was refused (' + resp.status + '): ' + reason);
      return;
    }
    if (!resp.ok) {
      const reason = await reasonOf(resp);
      $('panels').hidden = true;
      setState('error', 'The summary answered ' + resp.status + ': ' + reason, true);
      timer = setTimeout(load, 10000);
      return;
    }
    const data = await resp.json();
    $('login').hidden = true;
    $('forget').hidden = !token;
    $('panels').hidden = false;
    const t0 = performance.now();
    render(data);
    const ms = performance.now() - t0;
    $('panels').dataset.renderMs = ms.toFixed(1);
    $('panels').dataset.generatedAt = data.generated_at;
    setState('ready', 'Updated ' + fmt.time(data.generated_at) + ' UTC · every ' + data.interval_seconds + ' s · ' +
      data.histogram + ' histogram', false);
    const every = Math.min(Math.max(data.interval_seconds, 1), 60) * 1000;
    timer = setTimeout(load, every);
  }

  function el(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // lineChart draws one line per series over the timeline; a null value
  // breaks its line.
  function lineChart(box, label, times, series, yfmt) {
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v != null))));
    const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    const x = (i) => PAD.l + (times.length > 1 ? (i * iw) / (times.length - 1) : iw / 2);
    const y = (v) => PAD.t + ih - (v / max) * ih;
    // Five steps: a fifth of 1, 2, 2.5, 5 or 10 is a round number.
    for (let k = 0; k <= 5; k++) {
      const v = (max * k) / 5;
      svg.append(el('line', { class: 'axis', x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
      svg.append(el('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, yfmt(v)));
    }
    if (times.length === 0) {
      svg.append(el('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No snapshot yet'));
    } else {
      svg.append(el('text', { x: PAD.l, y: H - 8 }, fmt.time(times[0])));
      svg.append(el('text', { x: W - PAD.r, y: H - 8, 'text-anchor': 'end' }, fmt.time(times[times.length - 1])));
    }
    series.forEach((s, si) => {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v == null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      });
      if (d) svg.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
      // A point with no neighbour draws no line: mark it.
      s.values.forEach((v, i) => {
        if (v != null && s.values[i - 1] == null && s.values[i + 1] == null) {
          svg.append(el('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, fill: s.color }));
        }
      });
      const lg = el('g', { class: 'legend' });
      const lx = PAD.l + 8 + si * 110;
      lg.append(el('rect', { x: lx, y: PAD.t, width: 10, height: 10, fill: s.color }));
      lg.append(el('text', { x: lx + 14, y: PAD.t + 9 }, s.name));
      svg.append(lg);
    });
    box.replaceChildren(svg);
  }

  function barChart(box, label, bars) {
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
    const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
    const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    // Five steps: a fifth of 1, 2, 2.5, 5 or 10 is a round number.
    for (let k = 0; k <= 5; k++) {
      const v = (max * k) / 5;
      const yy = PAD.t + ih - (v / max) * ih;
      svg.append(el('line', { class: 'axis', x1: PAD.l, x2: W - PAD.r, y1: yy, y2: yy }));
      svg.append(el('text', { x: PAD.l - 6, y: yy + 4, 'text-anchor': 'end' }, String(Math.round(v))));
    }
    if (bars.length === 0) {
      svg.append(el('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No requests in the window'));
    }
    const slot = iw / Math.max(bars.length, 1);
    const bw = Math.min(60, slot * 0.7);
    bars.forEach((b, i) => {
      const h = (b.value / max) * ih;
      const bx = PAD.l + i * slot + (slot - bw) / 2;
      svg.append(el('rect', { class: b.cls, x: bx, y: PAD.t + ih - h, width: bw, height: Math.max(h, 0.5) }));
      svg.append(el('text', { x: bx + bw / 2, y: H - 8, 'text-anchor': 'middle' }, b.name));
      svg.append(el('text', { x: bx + bw / 2, y: Math.max(PAD.t + ih - h - 4, PAD.t + 10), 'text-anchor': 'middle' }, String(b.value)));
    });
    box.replaceChildren(svg);
  }

  // fillTable writes a header and rows of text cells; numeric columns are
  // right-aligned.
  function fillTable(table, caption, head, body, numeric) {
    const cap = document.createElement('caption');
    cap.textContent = caption;
    const thead = document.createElement('thead');
    const hr = document.createElement('tr');
    head.forEach((h, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = h;
      if (numeric[i]) th.className = 'num';
      hr.append(th);
    });
    thead.append(hr);
    const tbody = document.createElement('tbody');
    for (const r of body) {
      const tr = document.createElement('tr');
      r.forEach((c, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.scope = 'row';
        td.textContent = c;
        if (numeric[i]) td.className = 'num';
        tr.append(td);
      });
      tbody.append(tr);
    }
    table.replaceChildren(cap, thead, tbody);
  }

  function statusClass(code) {
    const c = String(code)[0];
    return '2345'.includes(c) ? 's' + c : 's0';
  }

  function render(d) {
    const t = d.totals;
    $('s-rate').textContent = fmt.rate(t.requests_per_second);
    $('s-errors').textContent = fmt.pct(t.error_ratio);
    $('s-p50').textContent = fmt.ms(t.p50_seconds);
    $('s-p95').textContent = fmt.ms(t.p95_seconds);
    $('s-p99').textContent = fmt.ms(t.p99_seconds);
    $('s-window').textContent = Math.round(d.covered_seconds) + ' s of ' + Math.round(d.window_seconds) + ' s';

    const tl = d.timeline;
    const times = tl.map((p) => p.time);
    lineChart($('c-rate'), 'Requests per second over time', times,
      [{ name: 'req/s', color: '#1f6feb', values: tl.map((p) => p.requests_per_second) }], (v) => v.toFixed(v < 10 ? 1 : 0));
    fillTable($('t-rate'), 'Requests per second by snapshot', ['Time (UTC)', 'req/s'],
      tl.map((p) => [fmt.time(p.time), fmt.rate(p.requests_per_second)]), [false, true]);

    lineChart($('c-errors'), 'Server errors (5xx) per second over time', times,
      [{ name: '5xx/s', color: '#d1242f', values: tl.map((p) => p.errors_per_second) }], (v) => v.toFixed(v < 10 ? 2 : 0));
    fillTable($('t-errors'), '5xx responses per second by snapshot', ['Time (UTC)', '5xx/s', 'share'],
      tl.map((p) => [fmt.time(p.time), fmt.rate(p.errors_per_second),
        fmt.pct(p.requests_per_second > 0 ? p.errors_per_second / p.requests_per_second : 0)]), [false, true, true]);

    lineChart($('c-latency'), 'Latency percentiles p50, p95 and p99 over time', times, [
      { name: 'p50', color: '#1f6feb', values: tl.map((p) => p.p50_seconds) },
      { name: 'p95', color: '#8250df', values: tl.map((p) => p.p95_seconds) },
      { name: 'p99', color: '#d1242f', values: tl.map((p) => p.p99_seconds) },
    ], (v) => (v * 1000).toFixed(v < 0.01 ? 1 : 0) + ' ms');
    fillTable($('t-latency'), 'Latency percentiles by snapshot', ['Time (UTC)', 'p50', 'p95', 'p99'],
      tl.map((p) => [fmt.time(p.time), fmt.ms(p.p50_seconds), fmt.ms(p.p95_seconds), fmt.ms(p.p99_seconds)]), [false, true, true, true]);

    const total = d.statuses.reduce((a, s) => a + s.requests, 0);
    barChart($('c-status'), 'Requests by status code over the window', d.statuses.map((s) => ({ name: s.status, value: s.requests, cls: statusClass(s.status) })));
    fillTable($('t-status'), 'Requests by status code over the window', ['Status', 'Requests', 'share'],
      d.statuses.map((s) => [s.status, fmt.int(s.requests), fmt.pct(total ? s.requests / total : 0)]), [false, true, true]);

    rows = d.endpoints;
    renderEndpoints();
  }

  function compare(a, b) {
    let x = a[sortKey], y = b[sortKey];
    if (x == null) x = -Infinity;
    if (y == null) y = -Infinity;
    // Code-point order for text: the same in every locale.
    const c = typeof x === 'string' ? (x < y ? -1 : x > y ? 1 : 0) : x - y;
    return sortDir === 'ascending' ? c : -c;
  }

  function renderEndpoints() {
    const needle = $('filter').value.trim().toLowerCase();
    const shown = rows.filter((r) => !needle || r.handler.toLowerCase().includes(needle)).sort(compare);
    const frag = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement('tr');
      const cells = [r.method, r.handler, fmt.int(r.requests), fmt.rate(r.requests_per_second), fmt.pct(r.error_ratio), fmt.ms(r.p99_seconds)];
      cells.forEach((c, i) => {
        const td = document.createElement('td');
        td.textContent = c;
        td.className = i === 1 ? 'handler' : i >= 2 ? 'num' : '';
        tr.append(td);
      });
      frag.append(tr);
    }
    $('endpoints').tBodies[0].replaceChildren(frag);
    $('e-count').textContent = shown.length + ' of ' + rows.length + ' endpoints';
    for (const th of $('endpoints').tHead.rows[0].cells) {
      th.setAttribute('aria-sort', th.dataset.key === sortKey ? sortDir : 'none');
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token').value.trim().replace(/^Bearer\s+/i, '');
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      $('token').value = '';
      $('login-reason').textContent = '';
      setState('loading', 'Loading…', false);
      load();
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      askToken('');
    });
    $('filter').addEventListener('input', renderEndpoints);
    for (const th of $('endpoints').tHead.rows[0].cells) {
      th.querySelector('button').addEventListener('click', () => {
        const key = th.dataset.key;
        if (sortKey === key) {
          sortDir = sortDir === 'descending' ? 'ascending' : 'descending';
        } else {
          sortKey = key;
          sortDir = key === 'method' || key === 'handler' ? 'ascending' : 'descending';
        }
        renderEndpoints();
      });
    }
    load();
  });
})();
