// The status page's own files: the HTML shell and the script that polls /status.json once a
// second and draws with uPlot (served from the uplot package, never from a CDN). No inline
// script, so the page's Content-Security-Policy can be script-src 'self'.

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vstun director status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/status.css">
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/status.js" defer></script>
</head>
<body>
<header>
  <h1>vstun director</h1>
  <div id="summary">
    <span>version <b id="version">-</b></span>
    <span>up <b id="uptime">-</b> s</span>
    <span>frames in <b id="frames">-</b></span>
    <span>conn table <b id="conntable">-</b></span>
    <span>updated <b id="polls">0</b>&times; <b id="state" class="stale">connecting</b></span>
  </div>
</header>
<main>
  <section>
    <h2>Services and real servers</h2>
    <table id="services">
      <thead><tr><th>Service / server</th><th>Health</th><th>Weight (now/configured)</th><th>Active</th><th>Inactive</th><th>Packets/s</th><th>Connections</th><th id="announce-head" hidden>Announced</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="charts">
    <figure><figcaption>Packets per second, per real server</figcaption><div class="chart" id="chart-rate"></div></figure>
    <figure><figcaption>Active connections, per real server</figcaption><div class="chart" id="chart-conns"></div></figure>
    <figure><figcaption>Drops per second, by reason</figcaption><div class="chart" id="chart-drops"></div></figure>
    <figure><figcaption>Event-loop delay (ms)</figcaption><div class="chart" id="chart-loop"></div></figure>
  </section>
</main>
</body>
</html>
`;

export const STATUS_CSS = `body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; align-items: baseline; gap: 24px; flex-wrap: wrap; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 8px; }
#summary { display: flex; gap: 18px; flex-wrap: wrap; }
main { padding: 14px 18px; }
table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 18px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e3e6eb; font-variant-numeric: tabular-nums; }
tr.service td { font-weight: 600; background: #eef1f6; }
tr.server td:first-child { padding-left: 28px; }
.up { color: #17803d; font-weight: 600; }
.down { color: #c0262d; font-weight: 600; }
.unchecked { color: #6b7280; }
.stale { color: #e3a008; }
.live { color: #34d399; }
#charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; }
figure { margin: 0; background: #fff; padding: 8px; border: 1px solid #e3e6eb; }
figcaption { font-weight: 600; margin-bottom: 4px; }
`;

export const STATUS_JS = `'use strict';
(function () {
  var POLL_MS = 1000;
  var KEEP = 180;
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563', '#65a30d', '#9333ea'];
  var times = [];
  var prev = null;
  var polls = 0;
  // name -> array of values aligned with times (null where unknown)
  var series = { rate: {}, conns: {}, drops: {}, loop: { 'mean': [], 'max': [] } };
  var charts = {};

  function text(id, v) { document.getElementById(id).textContent = String(v); }

  function push(group, name, value) {
    var s = series[group][name];
    if (!s) {
      s = series[group][name] = [];
      for (var i = 0; i < times.length - 1; i++) s.push(null);
    }
    s.push(value);
  }

  function trim() {
    if (times.length <= KEEP) return;
    var n = times.length - KEEP;
    times.splice(0, n);
    Object.keys(series).forEach(function (g) {
      Object.keys(series[g]).forEach(function (k) { series[g][k].splice(0, n); });
    });
  }

  function draw(group, id, unit) {
    var names = Object.keys(series[group]);
    var el = document.getElementById(id);
    var data = [times.slice()].concat(names.map(function (k) {
      var s = series[group][k];
      while (s.length < times.length) s.push(null);
      return s.slice();
    }));
    var c = charts[group];
    if (!c || c.names.join('|') !== names.join('|')) {
      if (c) c.plot.destroy();
      var opts = {
        width: Math.max(320, el.clientWidth || 520),
        height: 220,
        scales: { x: { time: true } },
        axes: [{}, { label: unit, size: 60 }],
        series: [{}].concat(names.map(function (k, i) {
          return { label: k, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: false } };
        })),
      };
      charts[group] = c = { names: names, plot: new uPlot(opts, data, el) };
    } else {
      c.plot.setData(data);
    }
    el.dataset.points = String(times.length);
    el.dataset.series = String(names.length);
  }

  function cell(tr, cls, value) {
    var td = document.createElement('td');
    td.className = cls;
    td.textContent = String(value);
    tr.appendChild(td);
    return td;
  }

  function renderTable(doc, rates) {
    var tbody = document.querySelector('#services tbody');
    var rows = [];
    var anyAnnounced = doc.services.some(function (s) { return s.announced !== undefined; });
    document.getElementById('announce-head').hidden = !anyAnnounced;
    doc.services.forEach(function (svc) {
      var tr = document.createElement('tr');
      tr.className = 'service';
      tr.dataset.service = svc.key;
      cell(tr, 'name', svc.protocol.toUpperCase() + ' ' + svc.vip + ':' + svc.port + '  ' + svc.scheduler);
      cell(tr, 'health', '');
      cell(tr, 'weight', '');
      var active = 0, inact = 0, rate = 0;
      svc.servers.forEach(function (rs) { active += rs.activeConns; inact += rs.inactConns; rate += rates[svc.key + ' ' + rs.address] || 0; });
      cell(tr, 'active', active);
      cell(tr, 'inactive', inact);
      cell(tr, 'rate', rate.toFixed(1));
      cell(tr, 'conns', svc.conns);
      if (anyAnnounced) cell(tr, 'announced', svc.announced === undefined ? '-' : svc.announced);
      rows.push(tr);
      svc.servers.forEach(function (rs) {
        var r = document.createElement('tr');
        r.className = 'server';
        r.dataset.service = svc.key;
        r.dataset.server = rs.address;
        cell(r, 'name', rs.address + ':' + rs.port);
        cell(r, 'health ' + rs.health, rs.health);
        cell(r, 'weight', rs.weight + '/' + rs.configuredWeight);
        cell(r, 'active', rs.activeConns);
        cell(r, 'inactive', rs.inactConns);
        cell(r, 'rate', (rates[svc.key + ' ' + rs.address] || 0).toFixed(1));
        cell(r, 'conns', rs.conns);
        if (anyAnnounced) cell(r, 'announced', '');
        rows.push(r);
      });
    });
    tbody.replaceChildren.apply(tbody, rows);
  }

  function apply(doc) {
    polls++;
    var dt = prev ? Math.max(0.001, (doc.at - prev.at) / 1000) : 0;
    var rates = {};
    var before = {};
    if (prev) prev.services.forEach(function (s) { s.servers.forEach(function (rs) { before[s.key + ' ' + rs.address] = rs.inPkts; }); });
    times.push(doc.at / 1000);
    doc.services.forEach(function (svc) {
      svc.servers.forEach(function (rs) {
        var k = svc.key + ' ' + rs.address;
        var label = rs.address + ' (' + svc.vip + ':' + svc.port + ')';
        rates[k] = dt && before[k] !== undefined ? Math.max(0, (rs.inPkts - before[k]) / dt) : 0;
        push('rate', label, rates[k]);
        push('conns', label, rs.activeConns);
      });
    });
    Object.keys(doc.drops).forEach(function (reason) {
      var was = prev ? prev.drops[reason] : undefined;
      // Only reasons that have happened get a line; the rest would be 30 flat zeros.
      if (doc.drops[reason] === 0 && !series.drops[reason]) return;
      push('drops', reason, dt && was !== undefined ? Math.max(0, (doc.drops[reason] - was) / dt) : 0);
    });
    push('loop', 'mean', doc.eventLoop.meanMs);
    push('loop', 'max', doc.eventLoop.maxMs);
    trim();
    text('version', doc.version);
    text('uptime', doc.uptimeS);
    text('frames', doc.framesIn);
    text('conntable', doc.connTable.entries + '/' + doc.connTable.capacity);
    text('polls', polls);
    renderTable(doc, rates);
    draw('rate', 'chart-rate', 'packets/s');
    draw('conns', 'chart-conns', 'connections');
    draw('drops', 'chart-drops', 'drops/s');
    draw('loop', 'chart-loop', 'ms');
    prev = doc;
  }

  function poll() {
    fetch('/status.json', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (doc) {
        apply(doc);
        var s = document.getElementById('state');
        s.textContent = 'live';
        s.className = 'live';
      })
      .catch(function (err) {
        var s = document.getElementById('state');
        s.textContent = 'no answer (' + err.message + ')';
        s.className = 'stale';
      })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  poll();
})();
`;
