/// The emperor's dashboard (`status = host:port`, path `/`): one self-contained
/// page (no CDN, no build step) that reads `/status.json` every second and
/// draws, per build, every worker as a dot coloured by what it is doing, and
/// each attached daemon (of a zerg or of a vassal config) as a square.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hadjango — builds</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;background:#f6f7f9;color:#222}
h1{font-size:1.3em;margin:0 0 .2em} .sub{color:#666;margin-bottom:1em}
.builds{display:flex;flex-wrap:wrap;gap:1em}
.build{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.8em 1em;min-width:18em}
.build h2{font-size:1.1em;margin:0 0 .4em} .tag{font-size:.75em;padding:.1em .5em;border-radius:1em;margin-left:.4em;color:#fff}
.live{background:#1a7f37}.stage{background:#9a6700}
.row{margin:.3em 0}.label{color:#666;font-size:.85em}
.dots{display:flex;flex-wrap:wrap;gap:10px;margin:.5em 4px}
.dot{width:18px;height:18px;border-radius:50%;border:1px solid rgba(0,0,0,.2);cursor:default}
.idle{background:#2da44e}.busy{background:#e16f24}.cheap{background:#d0d7de}.pause{background:#54aeff}.down{background:#cf222e}
.bar{height:8px;background:#eee;border-radius:4px;overflow:hidden;width:14em}.bar>div{height:100%;background:#e16f24}
.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:1em}.legend .dot{width:12px;height:12px}
#tip{position:fixed;display:none;background:#222;color:#fff;padding:.5em .7em;border-radius:6px;font-size:12px;white-space:pre;pointer-events:none}
.err{color:#cf222e}
.sq{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:middle;margin-right:.4em;border:1px solid rgba(0,0,0,.2)}
</style></head><body>
<h1>Builds</h1>
<div class="sub" id="sub">loading…</div>
<div class="legend"><span><i class="dot idle"></i>idle</span><span><i class="dot busy"></i>serving a request</span>
<span><i class="dot pause"></i>paused / leaving</span><span><i class="dot cheap"></i>not running (adaptive count)</span>
<span><i class="sq idle"></i>daemon running</span><span><i class="sq down"></i>daemon down</span>
<span>ring colour: the build's deploy tag</span></div>
<div class="builds" id="builds"></div>
<div id="tip"></div>
<script>
const tip = document.getElementById('tip');
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))}
function ago(epoch,now){if(!epoch)return '-';const s=now-epoch;return s<60?s+' s ago':s<3600?Math.round(s/60)+' min ago':Math.round(s/3600)+' h ago'}
function mb(b){return b?(b/1048576).toFixed(1)+' MB':'-'}
// Each deploy tag gets its own ring colour, so old and new code are told apart during a swap.
function tagColour(tag){if(!tag)return 'rgba(0,0,0,.2)';let h=0;for(const c of tag)h=(h*31+c.charCodeAt(0))%360;return `hsl(${h},70%,35%)`}
function render(doc){
  document.getElementById('sub').textContent = `${doc.hostname} · emperor pid ${doc.emperor_pid} · ${doc.version} (build ${(doc.emperor_build_id||'?').slice(0,12)}) · updated ${new Date().toLocaleTimeString()}`;
  const out = [];
  for (const b of doc.builds) {
    let html = `<div class="build" data-build="${esc(b.name)}"><h2>build ${esc(b.name)}${b.live?'<span class="tag live">live</span>':''}${b.stage?'<span class="tag stage">stage</span>':''}</h2>`;
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
                `<div class="bar"><div style="width:${Math.min(100,100*q/Math.max(1,Math.min(max,100)))}%"></div></div></div>`;
      } else {
        html += '<div class="dots">';
        for (const w of s.workers||[]) {
          const st = w.pid ? (w.status==='busy'?'busy':w.status==='pause'?'pause':w.status==='cheap'?'cheap':'idle') : (w.status==='cheap'?'cheap':'down');
          const info = [`worker ${w.id} · ${st}`, `pid ${w.pid||'-'}`, `build ${s.build||b.name}` + (s.deploy_tag?` · deploy ${s.deploy_tag}`:''), `requests ${w.requests}`,
            `exceptions ${w.exceptions}`, `avg response ${(w.avg_rt/1000).toFixed(1)} ms`, `RSS ${mb(w.rss)}`,
            `started ${ago(w.last_spawn, doc.now)}` + (w.ready_ms!=null?` · ready in ${w.ready_ms} ms`:''), w.request?`now: ${w.request} (${w.request_ms} ms)`:''].filter(Boolean).join('\n');
          html += `<i class="dot ${st}" style="box-shadow:0 0 0 3px ${tagColour(s.deploy_tag)}" data-worker="${w.id}" data-status="${st}" data-info="${esc(info)}"></i>`;
        }
        html += '</div>';
      }
      for (const d of s.daemons||[]) {
        html += `<div class="row" data-daemon="${esc(d.cmd)}" data-daemon-status="${d.pid?'running':'down'}"><i class="sq ${d.pid?'idle':'down'}"></i>`+
                `<span class="label">daemon <code>${esc(d.cmd)}</code> · ${d.pid?'pid '+d.pid:'not running'} · restarts ${d.respawns||0}${d.smart?' · smart (pidfile)':''}</span></div>`;
      }
    }
    out.push(html + '</div>');
  }
  document.getElementById('builds').innerHTML = out.join('') || '<p>No builds yet: drop a vassal.ini and a zerg.ini into a build directory.</p>';
}
async function tick(){
  try { const r = await fetch('status.json',{cache:'no-store'}); render(await r.json()); }
  catch(e){ document.getElementById('sub').innerHTML = '<span class="err">cannot reach the emperor: '+esc(e)+'</span>'; }
}
document.addEventListener('mousemove', e => {
  const d = e.target.closest && e.target.closest('.dot[data-info]');
  if (!d) { tip.style.display='none'; return; }
  tip.textContent = d.dataset.info; tip.style.display='block';
  tip.style.left = (e.clientX+12)+'px'; tip.style.top = (e.clientY+12)+'px';
});
tick(); setInterval(tick, 1000);
</script></body></html>
"""#
}
