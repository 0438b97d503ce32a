// The MPI web console page: one WebSocket to the `mpi console` server (docs/console.md has the messages).
'use strict';

const $ = (id) => document.getElementById(id);

// What the page has seen, for the operator's eye and for automated checks of the page.
const consoleStats = {
  imageUpdates: 0,   // images drawn
  rateHz: 0,         // images drawn per second over the last two seconds
  frames: 0,         // frames reconstructed by the scan (latest image)
  authenticated: false,
  faultText: '',     // the fault banner's text ('' when no fault)
  pageLinkOpen: false,
};
window.consoleStats = consoleStats;

let socket = null;
let nonceHex = '';
let label = 'mpi-console';
let hmacKey = null;      // the imported key (WebCrypto, not extractable); kept to re-prove after a reconnect
let scanState = 'idle';
let boardMode = '';
const imageTimes = [];

// ---- helpers -------------------------------------------------------------------------------------------

function hexToBytes(hex) {
  const clean = hex.trim();
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(clean.substr(2 * i, 2), 16);
  return out;
}

function bytesToHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function fmt(v, digits) {
  return (v === null || v === undefined || !Number.isFinite(v)) ? '–' : v.toFixed(digits);
}

function note(text) {
  const li = document.createElement('li');
  li.textContent = new Date().toLocaleTimeString() + '  ' + text;
  const list = $('messages');
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 100) list.removeChild(list.lastChild);
}

function send(obj) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(obj));
}

// A perceptual colour map (viridis-like), t in [0, 1].
const kStops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.min(1, Math.max(0, t)) * (kStops.length - 1);
  const i = Math.min(kStops.length - 2, Math.floor(x));
  const f = x - i;
  return kStops[i].map((c, k) => Math.round(c + f * (kStops[i + 1][k] - c)));
}

function ticks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return out;
}

// ---- authentication ------------------------------------------------------------------------------------

async function keyBytesFromInputs() {
  const file = $('key-file').files[0];
  let text = $('key-hex').value;
  if (file) text = await file.text();
  return hexToBytes(text);
}

async function prove() {
  if (!hmacKey || !nonceHex) return;
  const nonce = hexToBytes(nonceHex);
  const labelBytes = new TextEncoder().encode(label);
  const data = new Uint8Array(labelBytes.length + nonce.length);
  data.set(labelBytes, 0);
  data.set(nonce, labelBytes.length);
  const proof = await crypto.subtle.sign('HMAC', hmacKey, data);
  send({ type: 'auth', proof: bytesToHex(proof) });
}

async function onKeySubmit() {
  try {
    const bytes = await keyBytesFromInputs();
    if (!bytes) {
      $('auth-message').textContent = 'the key must be hexadecimal (the scanner key file)';
      return;
    }
    hmacKey = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    bytes.fill(0);
    $('key-hex').value = '';
    await prove();
  } catch (e) {
    $('auth-message').textContent = 'cannot use the key: ' + e;
  }
}

// ---- start / stop behind a confirmation ----------------------------------------------------------------

let pendingCommand = null;

function confirmCommand(command, text) {
  pendingCommand = command;
  $('confirm-text').textContent = text;
  $('confirm-modal').hidden = false;
  $('confirm-ok').focus();
}

function closeModal(confirmed) {
  $('confirm-modal').hidden = true;
  if (confirmed && pendingCommand) {
    send({ type: pendingCommand });
    note('sent ' + pendingCommand);
  }
  pendingCommand = null;
}

function updateButtons() {
  const can = consoleStats.authenticated && consoleStats.pageLinkOpen;
  const running = scanState === 'running' || scanState === 'stopping';
  $('start').disabled = !can || running || boardMode === 'BOARD_MODE_SAFE';
  $('stop').disabled = !can || !running;
  const why = consoleStats.authenticated ? '' : 'read-only: prove the scanner key first';
  $('start').title = why;
  $('stop').title = why;
}

// ---- drawing -------------------------------------------------------------------------------------------

// One image plane: pixels in the colour map, axes in mm, a colour bar with the value range.
function drawPlane(canvas, p) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const left = 46, top = 10, bottom = 36, bar = 80;
  const size = Math.min(W - left - bar - 10, H - top - bottom);
  const cw = p.nv > 1 ? size * Math.min(1, (p.nu * p.du_mm) / (p.nv * p.dv_mm || 1)) : size;
  const ch = p.nv > 1 ? size * Math.min(1, (p.nv * p.dv_mm) / (p.nu * p.du_mm || 1)) : size / 6;
  const img = ctx.createImageData(p.nu, p.nv);
  for (let v = 0; v < p.nv; ++v) {
    for (let u = 0; u < p.nu; ++u) {
      const q = p.q[v * p.nu + u];
      const row = p.nv - 1 - v;  // v grows upwards
      const k = 4 * (row * p.nu + u);
      const c = q < 0 ? [200, 200, 200] : colour(q / 1000);
      img.data[k] = c[0]; img.data[k + 1] = c[1]; img.data[k + 2] = c[2]; img.data[k + 3] = 255;
    }
  }
  const off = document.createElement('canvas');
  off.width = p.nu; off.height = p.nv;
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, left, top, cw, ch);
  ctx.strokeStyle = '#333';
  ctx.strokeRect(left, top, cw, ch);
  // Axes in mm: pixel centres u0 + i du; the plane spans half a pixel beyond them.
  ctx.fillStyle = '#222';
  ctx.font = '11px sans-serif';
  const u0 = p.u0_mm - p.du_mm / 2, u1 = p.u0_mm + (p.nu - 0.5) * p.du_mm;
  ctx.textAlign = 'center';
  for (const t of ticks(u0, u1, 5)) {
    const x = left + ((t - u0) / (u1 - u0)) * cw;
    ctx.fillRect(x, top + ch, 1, 4);
    ctx.fillText(t.toFixed(0), x, top + ch + 15);
  }
  ctx.fillText(p.u_axis + ' (mm)', left + cw / 2, top + ch + 30);
  if (p.nv > 1) {
    const v0 = p.v0_mm - p.dv_mm / 2, v1 = p.v0_mm + (p.nv - 0.5) * p.dv_mm;
    ctx.textAlign = 'right';
    for (const t of ticks(v0, v1, 5)) {
      const y = top + ch - ((t - v0) / (v1 - v0)) * ch;
      ctx.fillRect(left - 4, y, 4, 1);
      ctx.fillText(t.toFixed(0), left - 6, y + 4);
    }
    ctx.save();
    ctx.translate(12, top + ch / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText(p.v_axis + ' (mm)', 0, 0);
    ctx.restore();
  }
  // Colour bar.
  const bx = left + cw + 12, bw = 12;
  for (let i = 0; i < ch; ++i) {
    const c = colour(1 - i / Math.max(1, ch - 1));
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
    ctx.fillRect(bx, top + i, bw, 1);
  }
  ctx.strokeRect(bx, top, bw, ch);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  ctx.fillText(p.max === null ? '–' : p.max.toPrecision(3), bx + bw + 3, top + 9);
  ctx.fillText(p.min === null ? '–' : p.min.toPrecision(3), bx + bw + 3, top + ch);
}

// A line plot: xs, series [{ys, colour, name}], labels.
function drawLines(canvas, xs, series, xLabel, yLabel, bars) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const left = 56, right = 10, top = 10, bottom = 36;
  const pw = W - left - right, ph = H - top - bottom;
  const finite = (v) => v !== null && Number.isFinite(v);
  let ylo = Infinity, yhi = -Infinity;
  for (const s of series) for (const y of s.ys) if (finite(y)) { ylo = Math.min(ylo, y); yhi = Math.max(yhi, y); }
  if (!Number.isFinite(ylo)) { ylo = 0; yhi = 1; }
  if (yhi === ylo) { yhi += 1; ylo -= 1; }
  const pad = 0.05 * (yhi - ylo);
  ylo -= pad; yhi += pad;
  const xlo = Math.min(...xs), xhi = Math.max(...xs) === xlo ? xlo + 1 : Math.max(...xs);
  const X = (x) => left + ((x - xlo) / (xhi - xlo)) * pw;
  const Y = (y) => top + ph - ((y - ylo) / (yhi - ylo)) * ph;
  ctx.strokeStyle = '#333';
  ctx.strokeRect(left, top, pw, ph);
  ctx.fillStyle = '#222';
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'center';
  for (const t of ticks(xlo, xhi, 6)) { ctx.fillRect(X(t), top + ph, 1, 4); ctx.fillText(String(+t.toPrecision(4)), X(t), top + ph + 15); }
  ctx.fillText(xLabel, left + pw / 2, top + ph + 30);
  ctx.textAlign = 'right';
  for (const t of ticks(ylo, yhi, 5)) { ctx.fillRect(left - 4, Y(t), 4, 1); ctx.fillText(String(+t.toPrecision(3)), left - 6, Y(t) + 4); }
  ctx.save();
  ctx.translate(12, top + ph / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  for (const s of series) {
    ctx.strokeStyle = s.colour;
    ctx.fillStyle = s.colour;
    if (bars) {
      const w = Math.max(2, 0.6 * pw / xs.length);
      s.ys.forEach((y, i) => { if (finite(y)) ctx.fillRect(X(xs[i]) - w / 2, Y(y), w, top + ph - Y(y)); });
      continue;
    }
    ctx.beginPath();
    let pen = false;
    s.ys.forEach((y, i) => {
      if (!finite(y)) { pen = false; return; }
      if (pen) ctx.lineTo(X(xs[i]), Y(y)); else ctx.moveTo(X(xs[i]), Y(y));
      pen = true;
    });
    ctx.stroke();
  }
}

function showImage(m) {
  const box = $('image-planes');
  const planes = m.kind === 'grid' ? m.planes : [null];
  if (box.children.length !== planes.length || box.dataset.kind !== m.kind) {
    box.innerHTML = '';
    box.dataset.kind = m.kind;
    for (let i = 0; i < planes.length; ++i) {
      const fig = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = m.kind === 'grid' && planes.length > 1 ? 300 : 460;
      canvas.height = m.kind === 'grid' && planes.length > 1 ? 260 : 380;
      if (m.kind !== 'grid') canvas.height = 260;
      const cap = document.createElement('figcaption');
      fig.appendChild(canvas);
      fig.appendChild(cap);
      box.appendChild(fig);
    }
  }
  if (m.kind === 'grid') {
    m.planes.forEach((p, i) => {
      const fig = box.children[i];
      drawPlane(fig.querySelector('canvas'), p);
      fig.querySelector('figcaption').textContent = p.name;
    });
  } else {
    const xs = m.values.map((_, i) => m.x0_mm + i * m.dx_mm);
    const fig = box.children[0];
    drawLines(fig.querySelector('canvas'), xs, [{ ys: m.values, colour: '#2a6fdb' }], 'x (mm)', 'intensity (a.u.)');
    fig.querySelector('figcaption').textContent = '1D profile, latest frame';
  }
  consoleStats.imageUpdates += 1;
  consoleStats.frames = m.frames;
  const now = performance.now();
  imageTimes.push(now);
  while (imageTimes.length > 0 && now - imageTimes[0] > 2000) imageTimes.shift();
  consoleStats.rateHz = imageTimes.length > 1 ? (1000 * (imageTimes.length - 1)) / (now - imageTimes[0]) : 0;
  $('image-rate').textContent = consoleStats.rateHz.toFixed(1);
  $('image-updates').textContent = String(consoleStats.imageUpdates);
  $('frame-count').textContent = String(m.frames);
  $('frames-planned').textContent = String(m.planned);
}

function showSpectrum(m) {
  const xs = m.dbfs.map((_, i) => i + 1);
  drawLines($('spectrum'), xs, [{ ys: m.dbfs, colour: '#d9822b' }],
            'harmonic of ' + fmt(m.fundamental_hz / 1e3, 2) + ' kHz', 'level (dB full scale)', true);
}

function showPsf(m) {
  if (!m.file) {
    $('psf-file').textContent = 'no mpi relax result under the output folder';
    $('psf').getContext('2d').clearRect(0, 0, $('psf').width, $('psf').height);
    return;
  }
  $('psf-file').textContent = m.file;
  drawLines($('psf'), m.field_mt, [{ ys: m.rising, colour: '#2a6fdb' }, { ys: m.falling, colour: '#c0111f' }],
            'field (mT)', 'PSF (A m² / T), rising blue, falling red');
}

function showStatus(m) {
  const b = m.board;
  $('board-connection').textContent = b.connection;
  $('board-mode').textContent = b.mode ? b.mode.replace('BOARD_MODE_', '') : '?';
  boardMode = b.mode;
  $('board-name').textContent = b.board;
  $('board-state').textContent = b.state ? b.state.replace('SCAN_STATE_', '') : '?';
  $('write-pointer').textContent = String(b.write_pointer);
  $('scan-id').textContent = String(b.scan_id);
  $('gradient').textContent = b.gradient_t_per_m === null ? '?' : b.gradient_t_per_m.toFixed(2) + ' T/m (strongest axis, as the board reports)';
  const drives = $('drives').querySelector('tbody');
  drives.innerHTML = '';
  for (const d of b.drives) {
    const tr = document.createElement('tr');
    const cells = [d.name + ' (' + d.channel + ')', d.frequency_hz ? fmt(d.frequency_hz / 1e3, 3) + ' kHz' : '–',
                   fmt(d.target_mt, 3) + ' mT', fmt(d.measured_mt, 3) + ' mT', fmt(d.error_percent, 3) + ' %', d.verdict || '–'];
    for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.appendChild(td); }
    drives.appendChild(tr);
  }
  const temps = $('temperatures').querySelector('tbody');
  temps.innerHTML = '';
  for (const t of b.temperatures) {
    const tr = document.createElement('tr');
    const over = t.celsius !== null && t.limit_celsius !== null && t.celsius > t.limit_celsius;
    for (const c of [t.name, fmt(t.celsius, 1) + ' °C', fmt(t.limit_celsius, 1) + ' °C']) {
      const td = document.createElement('td'); td.textContent = c; tr.appendChild(td);
    }
    if (over) tr.className = 'over';
    temps.appendChild(tr);
  }
  // Where a fault happened: its drive channel (a board-wide fault has none) and sample index.
  const where = (f) => (f.channel >= 0 ? `channel ${f.channel}, ` : '') + `sample ${f.sample}`;
  const list = $('fault-list');
  list.innerHTML = '';
  for (const f of b.faults) {
    const li = document.createElement('li');
    li.textContent = `${f.kind} (${where(f)}): ${f.message}`;
    list.appendChild(li);
  }
  if (b.faults.length === 0) list.innerHTML = '<li>none</li>';
  const banner = $('fault-banner');
  if (b.faults.length > 0) {
    const f = b.faults[b.faults.length - 1];
    const text = `FAULT ${f.kind.replace('FAULT_KIND_', '')}: ${f.message} (${where(f)})` +
                 (b.faults.length > 1 ? ` and ${b.faults.length - 1} more` : '');
    banner.textContent = text;
    banner.hidden = false;
    consoleStats.faultText = text;
  } else {
    banner.hidden = true;
    banner.textContent = '';
    consoleStats.faultText = '';
  }
  const s = m.scan;
  scanState = s.state;
  $('scan-state').textContent = s.state;
  $('scan-message').textContent = s.message;
  $('frames-dropped').textContent = String(s.dropped);
  if (s.state !== 'running') $('frame-count').textContent = String(s.frames);
  $('frames-planned').textContent = String(s.planned);
  $('session-info').textContent = `plan ${m.session.plan} · scanner ${m.session.scanner} · outputs in ${m.session.out}`;
  updateButtons();
}

// ---- the WebSocket ----------------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  socket = new WebSocket(scheme + location.host + '/ws');
  socket.onopen = () => {
    consoleStats.pageLinkOpen = true;
    $('page-link').textContent = 'open';
  };
  socket.onclose = () => {
    consoleStats.pageLinkOpen = false;
    consoleStats.authenticated = false;
    $('page-link').textContent = 'lost: reconnecting';
    $('auth-state').textContent = 'read-only';
    updateButtons();
    setTimeout(connect, 1000);  // the console may be restarting; a new session gets a new challenge
  };
  socket.onmessage = (event) => {
    let m;
    try { m = JSON.parse(event.data); } catch (e) { note('unreadable message from the console'); return; }
    switch (m.type) {
      case 'hello':
        nonceHex = m.nonce;
        label = m.label;
        if (!m.key_configured) $('auth-message').textContent = 'the console has no scanner key: read-only';
        prove();  // a key proven before a reconnect is proven again
        break;
      case 'auth_result':
        consoleStats.authenticated = m.ok;
        $('auth-state').textContent = m.ok ? 'key proven' : 'read-only';
        $('auth-message').textContent = m.message;
        note(m.message);
        updateButtons();
        break;
      case 'status': showStatus(m); break;
      case 'image': showImage(m); break;
      case 'spectrum': showSpectrum(m); break;
      case 'psf': showPsf(m); break;
      case 'result': note(`${m.command}: ${m.message}`); break;
      case 'error': note('console: ' + m.message); break;
      default: break;
    }
  };
}

$('key-submit').addEventListener('click', onKeySubmit);
$('start').addEventListener('click', () => confirmCommand('start', 'Start a scan of the plan? The drive field will be switched on.'));
$('stop').addEventListener('click', () => confirmCommand('stop', 'Stop the running scan? It ramps down and its outputs are written.'));
$('confirm-ok').addEventListener('click', () => closeModal(true));
$('confirm-cancel').addEventListener('click', () => closeModal(false));
document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('confirm-modal').hidden) closeModal(false); });
updateButtons();
connect();
