/// The emperor's dashboard (`status = host:port`, path `/`): one self-contained
/// page (no CDN, no build step). Each second it reads `/status.json` (what
/// runs now), what `/history.json` and `/events.json` added since its last
/// look, and draws per build:
/// - a chart (SVG) of responses/s stacked by class, with p50/p99 lines, the
///   same time window for every build, and the deploy events as markers, so a
///   swap shows as traffic moving from one build's chart to another's;
/// - live/stage badges, figures of the last second, the queue bar;
/// - every worker as a dot coloured by what it does (ringed by deploy tag),
///   with a popover of its fields (hover, or click to pin; `#worker=a/2`
///   opens one at load, `#window=60` sets the window), each attached daemon as a square;
/// and the recent events as a list.
/// The page keeps at most 15 minutes of points per build and rebuilds only
/// what changed, so 20 builds × 14 workers stay light.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hadjango — builds</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;background:#f6f7f9;color:#222}
h1{font-size:1.3em;margin:0 0 .2em} .sub{color:#666;margin-bottom:.6em}
.bar-top{display:flex;gap:1.5em;align-items:center;flex-wrap:wrap;margin-bottom:.8em}
.window button{border:1px solid #bbb;background:#fff;border-radius:4px;padding:.1em .6em;cursor:pointer}
.window button.on{background:#222;color:#fff;border-color:#222}
.builds{display:flex;flex-wrap:wrap;gap:1em}
.build{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.7em .9em;width:41em;box-sizing:border-box}
.build h2{font-size:1.1em;margin:0 0 .3em} .tag{font-size:.75em;padding:.1em .5em;border-radius:1em;margin-left:.4em;color:#fff}
.live{background:#1a7f37}.stage{background:#9a6700}
.row{margin:.25em 0}.label{color:#666;font-size:.85em}
.figures{display:flex;gap:.9em;flex-wrap:wrap;font-size:.8em;color:#444;margin-top:.2em}.figures b{color:#111}
svg.chart{width:100%;height:150px;display:block;background:#fbfbfc;border:1px solid #eee;border-radius:4px}
svg .c2{fill:#2da44e;opacity:.75}svg .c3{fill:#54aeff;opacity:.8}svg .c4{fill:#d4a72c;opacity:.85}svg .c5{fill:#cf222e;opacity:.9}
svg .p50{fill:none;stroke:#6639ba;stroke-width:1.3}svg .p99{fill:none;stroke:#6639ba;stroke-width:1.3;stroke-dasharray:4 2}
svg .axis{font-size:10px;fill:#888}svg .grid{stroke:#eee}
svg .marker{stroke-width:1.5}svg .marker.swap{stroke:#1a7f37}svg .marker.life{stroke:#888;stroke-dasharray:2 2}svg .marker.bad{stroke:#cf222e}
.dots{display:flex;flex-wrap:wrap;gap:8px;margin:.5em 4px}
.dot{width:16px;height:16px;border-radius:50%;border:1px solid rgba(0,0,0,.2);cursor:pointer}
.idle{background:#2da44e}.busy{background:#e16f24}.cheap{background:#d0d7de}.pause{background:#54aeff}.down{background:#cf222e}
.qbar{height:8px;background:#eee;border-radius:4px;overflow:hidden;width:14em;display:inline-block;vertical-align:middle;margin-left:.5em}.qbar>div{height:100%;background:#e16f24}
.legend{font-size:.85em;margin-bottom:.6em}.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:1em}.legend .dot{width:12px;height:12px}
.sw{display:inline-block;width:12px;height:10px;border-radius:2px}
#pop{position:fixed;display:none;background:#222;color:#fff;padding:.5em .7em;border-radius:6px;font-size:12px;white-space:pre;z-index:10;max-width:40em}
#pop.pinned{outline:2px solid #e16f24}
.err{color:#cf222e}
.sq{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:middle;margin-right:.4em;border:1px solid rgba(0,0,0,.2)}
table.events{border-collapse:collapse;font-size:.85em;margin-top:.5em;background:#fff}
table.events td,table.events th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
</style></head><body>
<h1>Builds</h1>
<div class="sub" id="sub">loading…</div>
<div class="bar-top">
<span class="window" id="window">window: <button data-s="60">1 min</button><button data-s="300" class="on">5 min</button><button data-s="900">15 min</button></span>
<span class="legend"><span><i class="sw" style="background:#2da44e"></i>2xx</span><span><i class="sw" style="background:#54aeff"></i>3xx</span>
<span><i class="sw" style="background:#d4a72c"></i>4xx</span><span><i class="sw" style="background:#cf222e"></i>5xx</span>
<span>— p50 &nbsp;- - p99 (ms, right axis)</span><span>| event</span></span>
</div>
<div class="legend"><span><i class="dot idle"></i>idle</span><span><i class="dot busy"></i>serving a request</span>
<span><i class="dot pause"></i>paused / leaving</span><span><i class="dot cheap"></i>not running (adaptive count)</span>
<span><i class="sq idle"></i>daemon running</span><span><i class="sq down"></i>daemon down</span>
<span>ring colour: the build's deploy tag</span></div>
<div class="builds" id="builds"></div>
<h2 style="font-size:1.1em;margin:1em 0 0">Events</h2>
<table class="events" id="events"><tbody></tbody></table>
<div id="pop"></div>
<script>
"use strict";
// Script errors and console errors are kept on <body> too (the browser test reads them from the DOM).
function noteError(text){ document.body.dataset.errors = (document.body.dataset.errors || '') + text + '; '; }
window.addEventListener('error', e => noteError(e.message));
window.addEventListener('unhandledrejection', e => noteError(String(e.reason)));
const consoleError = console.error.bind(console);
console.error = (...args) => { noteError(args.join(' ')); consoleError(...args); };
const KEEP_MS = 900000;
let windowS = 300, lastPointMs = 0, lastEventMs = 0, columns = null, nowMs = Date.now(), pinned = null, hashDone = false;
const hist = {};      // build -> rows of /history.json's columns, oldest first
let events = [];      // /events.json's events, oldest first
const cards = {};     // build -> its elements
const pop = document.getElementById('pop');
// The address may say what to show: #worker=a/2 (its popover) & window=60 (seconds).
const hashParams = new URLSearchParams(location.hash.slice(1));
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
function ago(epoch,now){if(!epoch)return '-';const s=now-epoch;return s<60?s+' s ago':s<3600?Math.round(s/60)+' min ago':Math.round(s/3600)+' h ago'}
function mb(b){return b?(b/1048576).toFixed(1)+' MB':'-'}
function num(v,d){return v==null?'-':(+v).toFixed(d)}
function hhmmss(ms){return new Date(ms).toLocaleTimeString()}
// Each deploy tag gets its own ring colour, so old and new code are told apart during a swap.
function tagColour(tag){if(!tag)return 'rgba(0,0,0,.2)';let h=0;for(const c of tag)h=(h*31+c.charCodeAt(0))%360;return `hsl(${h},70%,35%)`}
function col(name){return columns?columns.indexOf(name):-1}
function niceMax(v){if(!(v>0))return 1;const p=Math.pow(10,Math.floor(Math.log10(v)));for(const m of [1,2,5,10])if(v<=m*p)return m*p;return 10*p}

function card(name){
  if (cards[name]) return cards[name];
  const el = document.createElement('div');
  el.className = 'build'; el.dataset.build = name;
  el.innerHTML = `<h2></h2><svg class="chart" viewBox="0 0 560 150" preserveAspectRatio="none" data-chart="${esc(name)}"></svg>`+
                 `<div class="figures"></div><div class="body"></div>`;
  const c = {el, h2: el.querySelector('h2'), svg: el.querySelector('svg'), figures: el.querySelector('.figures'), body: el.querySelector('.body'), html: ''};
  cards[name] = c;
  const all = document.getElementById('builds');
  const after = Object.keys(cards).sort().filter(n => n > name).map(n => cards[n].el).find(e => e.parentNode);
  all.insertBefore(el, after || null);
  return c;
}

// The chart: responses/s stacked by class (left axis), p50/p99 (right axis), events as markers.
function drawChart(name, c){
  const rows = hist[name] || [], W = 560, H = 150, L = 34, R = 30, T = 8, B = 16;
  const from = nowMs - windowS*1000, x = t => L + (t - from) / (windowS*1000) * (W - L - R);
  const shown = rows.filter(r => r[0] > from);
  const k = ['2xx','3xx','4xx','5xx'].map(col), p50 = col('p50'), p99 = col('p99');
  let maxR = 0, maxMs = 0;
  for (const r of shown) { maxR = Math.max(maxR, k.reduce((a,i)=>a+r[i],0)); if (r[p99]!=null) maxMs = Math.max(maxMs, r[p99]); }
  maxR = niceMax(maxR); maxMs = niceMax(maxMs);
  const yR = v => H - B - v / maxR * (H - B - T), yMs = v => H - B - v / maxMs * (H - B - T);
  let out = `<line class="grid" x1="${L}" x2="${W-R}" y1="${T}" y2="${T}"/><line class="grid" x1="${L}" x2="${W-R}" y1="${H-B}" y2="${H-B}"/>`+
            `<text class="axis" x="2" y="${T+8}">${maxR}/s</text><text class="axis" x="${W-R+2}" y="${T+8}">${maxMs}ms</text>`+
            `<text class="axis" x="${L}" y="${H-3}">-${windowS>=120?windowS/60+' min':windowS+' s'}</text><text class="axis" x="${W-R-18}" y="${H-3}">now</text>`;
  if (shown.length) {
    let below = shown.map(() => 0);
    k.forEach((ci, n) => {
      const above = shown.map((r, j) => below[j] + r[ci]);
      if (above.some((v, j) => v > below[j])) {
        const top = shown.map((r, j) => `${x(r[0]).toFixed(1)},${yR(above[j]).toFixed(1)}`);
        const bottom = shown.map((r, j) => `${x(r[0]).toFixed(1)},${yR(below[j]).toFixed(1)}`).reverse();
        out += `<path class="c${n+2}" d="M${top.join('L')}L${bottom.join('L')}Z"/>`;
      }
      below = above;
    });
    // A second without responses has no quantile: the line breaks there.
    for (const [ci, cls] of [[p50,'p50'],[p99,'p99']]) {
      let d = '', open = false;
      for (const r of shown) {
        if (r[ci] == null) { open = false; continue; }
        d += `${open ? 'L' : 'M'}${x(r[0]).toFixed(1)},${yMs(r[ci]).toFixed(1)}`; open = true;
      }
      if (d) out += `<path class="${cls}" d="${d}"/>`;
    }
  }
  for (const e of events) {
    if (e.t <= from || (e.build !== name)) continue;
    const kind = (e.event === 'live' || e.event === 'stage' || e.event === 'nginx reloaded') ? 'swap' :
                 (e.event === 'crashed' || e.event === 'harakiri') ? 'bad' : 'life';
    const xx = x(e.t).toFixed(1);
    out += `<line class="marker ${kind}" data-event="${esc(e.event)}" x1="${xx}" x2="${xx}" y1="${T}" y2="${H-B}">`+
           `<title>${esc(hhmmss(e.t)+' '+(e.subject?e.subject+' ':'')+e.event+(e.cause?' ('+e.cause+')':''))}</title></line>`;
  }
  c.svg.innerHTML = out;
  c.svg.dataset.points = shown.length;
  c.svg.dataset.lastMinute = rows.filter(r => r[0] > nowMs - 60000).length;
}

function figures(name){
  const rows = hist[name] || [], r = rows[rows.length-1];
  if (!r) return '<span class="label">no samples yet</span>';
  const v = n => r[col(n)];
  return `<span><b>${num(v('rps'),1)}</b> req/s</span><span>p50 <b>${num(v('p50'),1)}</b> ms</span><span>p99 <b>${num(v('p99'),1)}</b> ms</span>`+
         `<span>5xx <b>${num(v('5xx'),1)}</b>/s</span><span>queue <b>${num(v('queue'),0)}</b></span>`+
         `<span>workers <b>${num(v('busy'),0)}</b> busy / <b>${num(v('ready'),0)}</b> ready</span><span>RSS <b>${mb(v('rss'))}</b></span>`;
}

function workerInfo(w, s, b, now){
  const recycles = Object.entries(w.recycles||{}).map(([k,v])=>`${k} ${v}`).join(', ');
  return [`worker ${w.id} · ${w.status}`, `pid ${w.pid||'-'}`, `build ${s.build||b.name}` + (s.deploy_tag?` · deploy ${s.deploy_tag}`:''),
    `requests ${w.requests} · exceptions ${w.exceptions}`, `avg response ${(w.avg_rt/1000).toFixed(1)} ms`, `RSS ${mb(w.rss)}`,
    `started ${ago(w.last_spawn, now)}` + (w.ready_ms!=null?` · ready in ${w.ready_ms} ms`:''), `recycled ${w.respawn_count>1?w.respawn_count-1:0} time(s)` + (recycles?` (${recycles})`:''),
    w.harakiri_count?`harakiri ${w.harakiri_count}`:'', w.request?`now: ${w.request} (${w.request_ms} ms)`:'idle: no request'].filter(Boolean).join('\n');
}

function body(b, now){
  let html = '';
  for (const i of b.instances) {
    const s = i.stats;
    html += `<div class="row"><span class="label">${esc(i.kind||'?')} · ${esc(i.state)} · pid ${i.pid||'-'}${s&&s.deploy_tag?' · deploy '+esc(s.deploy_tag):''}`+
            `${s&&s.build_id?' · binary '+esc(s.build_id.slice(0,12))+(s.binary_replaced?' (file replaced since)':''):''}</span></div>`;
    const problem = i.problem || (s && s.problem);
    if (problem) html += `<div class="row err" data-problem="${esc(b.name)}">${esc(problem)}</div>`;
    if (!s) continue;
    if (i.kind === 'vassal') {
      const q = s.listen_queue||0, max = (s.sockets&&s.sockets[0]&&s.sockets[0].max_queue)||1;
      html += `<div class="row"><span class="label">waiting for a worker: ${q} · idle keep-alive connections: ${s.parked_connections||0}</span>`+
              `<span class="qbar"><div style="width:${Math.min(100,100*q/Math.max(1,Math.min(max,100)))}%"></div></span></div>`;
    } else {
      html += '<div class="dots">';
      for (const w of s.workers||[]) {
        const st = w.pid ? (w.status==='busy'?'busy':w.status==='pause'?'pause':w.status==='cheap'?'cheap':'idle') : (w.status==='cheap'?'cheap':'down');
        html += `<i class="dot ${st}" style="box-shadow:0 0 0 3px ${tagColour(s.deploy_tag)}" data-key="${esc(b.name)}/${w.id}" `+
                `data-worker="${w.id}" data-status="${st}" data-info="${esc(workerInfo(w, s, b, now))}"></i>`;
      }
      html += '</div>';
    }
    for (const d of s.daemons||[]) {
      html += `<div class="row" data-daemon="${esc(d.cmd)}" data-daemon-status="${d.pid?'running':'down'}"><i class="sq ${d.pid?'idle':'down'}"></i>`+
              `<span class="label">daemon <code>${esc(d.cmd)}</code> · ${d.pid?'pid '+d.pid:'not running'} · restarts ${d.respawns||0}${d.smart?' · smart (pidfile)':''}</span></div>`;
    }
  }
  return html;
}

function render(doc){
  document.getElementById('sub').textContent = `${doc.hostname} · emperor pid ${doc.emperor_pid} · ${doc.version} (build ${(doc.emperor_build_id||'?').slice(0,12)}) · updated ${new Date().toLocaleTimeString()}`;
  const names = new Set(doc.builds.map(b => b.name));
  for (const b of doc.builds) {
    const c = card(b.name);
    const h2 = `build ${esc(b.name)}${b.live?'<span class="tag live">live</span>':''}${b.stage?'<span class="tag stage">stage</span>':''}`;
    if (c.h2.innerHTML !== h2) c.h2.innerHTML = h2;
    c.figures.innerHTML = figures(b.name);
    const html = body(b, doc.now);
    if (html !== c.html) { c.body.innerHTML = html; c.html = html; }
    drawChart(b.name, c);
  }
  for (const n of Object.keys(cards)) if (!names.has(n)) { cards[n].el.remove(); delete cards[n]; }
  if (!doc.builds.length && !document.getElementById('none')) document.getElementById('builds').innerHTML = '<p id="none">No builds yet: drop a vassal.ini and a zerg.ini into a build directory.</p>';
  if (doc.builds.length) { const none = document.getElementById('none'); if (none) none.remove(); }
  renderEvents();
  if (pinned) { const d = document.querySelector(`.dot[data-key="${CSS.escape(pinned)}"]`); if (d) show(d, true); }
  if (!hashDone) {
    const key = hashParams.get('worker');
    const d = key && document.querySelector(`.dot[data-key="${CSS.escape(key)}"]`);
    if (d) { pinned = key; show(d, true); }
    hashDone = !key || !!d;
  }
}

function renderEvents(){
  const rows = events.slice(-40).reverse().map(e => `<tr data-event="${esc(e.event)}" data-build="${esc(e.build)}"><td>${esc(hhmmss(e.t))}</td><td>${esc(e.build)}</td>`+
    `<td>${esc((e.subject?e.subject+' ':'')+e.event)}</td><td>${esc(e.cause)}</td></tr>`).join('');
  const tb = document.querySelector('#events tbody');
  const html = '<tr><th>time</th><th>build</th><th>event</th><th>cause</th></tr>' + rows;
  if (tb.innerHTML !== html) tb.innerHTML = html;
}

function addHistory(doc){
  columns = doc.columns;
  for (const [name, h] of Object.entries(doc.builds)) {
    const rows = hist[name] || (hist[name] = []);
    for (const p of h.points) if (!rows.length || p[0] > rows[rows.length-1][0]) rows.push(p);
    while (rows.length && rows[0][0] < doc.now - KEEP_MS) rows.shift();
    if (rows.length) lastPointMs = Math.max(lastPointMs, rows[rows.length-1][0]);
  }
}

function addEvents(doc){
  for (const e of doc.events) if (e.t > lastEventMs || !events.length) events.push(e);
  if (events.length) lastEventMs = events[events.length-1].t;
  events = events.filter(e => e.t > doc.now - KEEP_MS).slice(-500);
}

async function getJSON(path){ const r = await fetch(path, {cache:'no-store'}); if (!r.ok) throw new Error(path+': '+r.status); return r.json(); }
async function tick(){
  try {
    const [status, history, evs] = await Promise.all([getJSON('status.json'), getJSON('history.json?step=1&since='+lastPointMs), getJSON('events.json?since='+lastEventMs)]);
    const t0 = performance.now();
    addHistory(history); addEvents(evs);
    nowMs = history.now;
    render(status);
    // What a refresh costs the browser (bench/dashboard.sh reads it with 20 builds × 14 workers).
    const ms = performance.now() - t0;
    document.body.dataset.renderMs = ms.toFixed(1);
    document.body.dataset.renderMaxMs = Math.max(ms, +(document.body.dataset.renderMaxMs || 0)).toFixed(1);
  } catch(e) {
    document.getElementById('sub').innerHTML = '<span class="err">cannot reach the emperor: '+esc(e)+'</span>';
    console.error('cannot reach the emperor: ' + e);
  }
}

function show(d, pin){
  pop.textContent = d.dataset.info; pop.style.display = 'block'; pop.classList.toggle('pinned', !!pin);
  pop.dataset.key = d.dataset.key;
  const r = d.getBoundingClientRect();
  pop.style.left = Math.min(window.innerWidth - 320, r.right + 8) + 'px'; pop.style.top = (r.bottom + 6) + 'px';
}
document.addEventListener('mouseover', e => {
  const d = e.target.closest && e.target.closest('.dot[data-info]');
  if (d) show(d, false); else if (!pinned) pop.style.display = 'none';
});
document.addEventListener('click', e => {
  const d = e.target.closest && e.target.closest('.dot[data-info]');
  if (d && pinned !== d.dataset.key) { pinned = d.dataset.key; show(d, true); }
  else { pinned = null; pop.style.display = 'none'; }
});
document.getElementById('window').addEventListener('click', e => {
  const s = e.target.dataset && e.target.dataset.s; if (s) setWindow(+s);
});
function setWindow(seconds){
  windowS = seconds;
  for (const b of document.querySelectorAll('#window button')) b.classList.toggle('on', +b.dataset.s === seconds);
  for (const [n, c] of Object.entries(cards)) drawChart(n, c);
}
if (+hashParams.get('window') > 0) setWindow(+hashParams.get('window'));
tick(); setInterval(tick, 1000);
</script></body></html>
"""#
}
