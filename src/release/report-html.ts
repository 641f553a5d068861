/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external resource; its Content-Security-Policy
 * forbids loading anything), readable offline on the air-gapped site. The data it shows is embedded as JSON too
 * (`<script type="application/json">`, never executed), so `iso-build report DIR` can redraw it without the build log.
 */
import type { PayloadKind, ReportData, SizePart } from './report-data.js';
import type { Timeline } from '../pipeline/timing-log.js';

const REPORT_DATA_ID = 'iso-build-report-data';

const COLORS: Record<SizePart['kind'], string> = {
  layer: '#3b6ea8',
  deb: '#d1843b',
  image: '#7a57b0',
  chart: '#3a9a6a',
  other: '#a0a0a0',
  tree: '#c9b458',
  iso: '#6b6b6b',
};
const LAYER_SHADES = ['#3b6ea8', '#5b8cc4', '#86acd9', '#2c5283', '#a9c4e6'];

function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** A tick step of 1, 2 or 5 times a power of ten giving at most ~8 ticks. */
function tickStep(max: number): number {
  const raw = max / 8;
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? p * 10;
}

function timelineSvg(t: Timeline): string {
  if (!t.stages.length) return '<p class="none">The build log has no stage timings.</p>';
  const end = Math.max(...t.stages.map((s) => s.start + s.seconds), 0.001);
  const [labelW, barW, rowH, top] = [340, 520, 22, 24];
  const x = (sec: number): number => labelW + (sec / end) * barW;
  const height = top + t.stages.length * rowH + 8;
  const step = tickStep(end);
  const ticks: string[] = [];
  for (let v = 0; v <= end + 1e-9; v += step) {
    ticks.push(`<line x1="${x(v).toFixed(1)}" y1="${top - 4}" x2="${x(v).toFixed(1)}" y2="${height - 6}" class="tick"/>` +
      `<text x="${x(v).toFixed(1)}" y="${top - 8}" class="axis">${esc(seconds(v))}</text>`);
  }
  const rows = t.stages.map((s, i) => {
    const y = top + i * rowH;
    const w = Math.max(1.5, (s.seconds / end) * barW);
    return `<g class="stage"><title>${esc(s.title)}: ${esc(seconds(s.seconds))} (from ${esc(seconds(s.start))})</title>` +
      `<text x="${labelW - 8}" y="${y + 15}" class="label">${esc(s.title)}</text>` +
      `<rect x="${x(s.start).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="2"/>` +
      `<text x="${(x(s.start) + w + 4).toFixed(1)}" y="${y + 15}" class="value">${esc(seconds(s.seconds))}</text></g>`;
  });
  return `<svg class="timeline" role="img" aria-label="stage timeline" viewBox="0 0 ${labelW + barW + 80} ${height}" width="${labelW + barW + 80}" height="${height}">${ticks.join('')}${rows.join('')}</svg>`;
}

function partColors(parts: SizePart[]): string[] {
  let layer = 0;
  return parts.map((p) => (p.kind === 'layer' ? LAYER_SHADES[layer++ % LAYER_SHADES.length]! : COLORS[p.kind]));
}

function sizeSection(parts: SizePart[], total: number, caption: string): string {
  const colors = partColors(parts);
  const width = 860;
  let at = 0;
  const rects = parts.map((p, i) => {
    const w = total > 0 ? (p.bytes / total) * width : 0;
    const r = `<rect x="${at.toFixed(1)}" y="0" width="${w.toFixed(1)}" height="28" fill="${colors[i]}"><title>${esc(p.label)}: ${esc(humanBytes(p.bytes))}</title></rect>`;
    at += w;
    return r;
  });
  const rows = parts.map(
    (p, i) =>
      `<tr><td><span class="swatch" style="background:${colors[i]}"></span>${esc(p.label)}</td><td class="num">${esc(humanBytes(p.bytes))}</td>` +
      `<td class="num">${total > 0 ? ((p.bytes / total) * 100).toFixed(1) : '0.0'} %</td><td class="num">${p.files ?? ''}</td></tr>`,
  );
  return `<svg class="sizes" role="img" aria-label="${esc(caption)}" viewBox="0 0 ${width} 28" width="${width}" height="28">${rects.join('')}</svg>` +
    `<table><thead><tr><th>${esc(caption)}</th><th>size</th><th>share</th><th>files</th></tr></thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr><td>total</td><td class="num">${esc(humanBytes(total))}</td><td></td><td></td></tr></tfoot></table>`;
}

const KIND_NAME: Record<PayloadKind, string> = { deb: 'deb', image: 'image', chart: 'chart', other: 'file' };

function payloadTable(data: ReportData): string {
  if (!data.payload.length) return '<p class="none">This release has no offline package payload.</p>';
  const rows = data.payload.map(
    (p) =>
      `<tr><td>${KIND_NAME[p.kind]}</td><td>${esc(p.path)}${p.reference ? `<br><span class="ref">${esc(p.reference)} ${esc(p.digest ?? '')}</span>` : ''}</td>` +
      `<td class="num">${esc(humanBytes(p.size))}</td><td class="hash">${esc(p.sha256)}</td></tr>`,
  );
  return `<table class="payload"><thead><tr><th>kind</th><th>file (under /opt/novasphere/packages)</th><th>size</th><th>sha256</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function changesSection(data: ReportData): string {
  if (!data.previous) return `<p class="none">No previous release beside this one: ${data.packageCount} packages, none compared.</p>`;
  const { added, removed, upgraded, downgraded } = data.previous.changes;
  const list = (title: string, items: string[]): string =>
    `<h3>${esc(title)} (${items.length})</h3>${items.length ? `<ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '<p class="none">none</p>'}`;
  return `<p>Against ${esc(data.previous.version)}: ${data.packageCount} packages now.</p>` +
    list('Upgraded', upgraded.map((u) => `${u.name} ${u.from} → ${u.to}`)) +
    (downgraded.length ? list('Downgraded', downgraded.map((u) => `${u.name} ${u.from} → ${u.to}`)) : '') +
    list('Added', added.map((p) => `${p.name} ${p.version}`)) +
    list('Removed', removed.map((p) => `${p.name} ${p.version}`));
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:14px;margin:12px 0 4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{color:#57606a;font-weight:600}td.num{text-align:right;white-space:nowrap}td.hash,.ref{font:12px ui-monospace,monospace;overflow-wrap:anywhere;color:#57606a}
tfoot td{font-weight:600}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.none{color:#57606a;font-style:italic}svg{display:block;max-width:100%;height:auto;margin:8px 0}
svg .label{font-size:12px;text-anchor:end;fill:#1f2328}svg .value,svg .axis{font-size:11px;fill:#57606a}svg .axis{text-anchor:middle}
svg .tick{stroke:#eaeef2}svg .stage rect{fill:#3b6ea8}ul{margin:4px 0;padding-left:20px}#changes ul{columns:3 260px}code{font:12px ui-monospace,monospace}
`;

/** The page. Deterministic: the same data gives the same bytes. */
export function renderReport(data: ReportData): string {
  const date = new Date(data.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z');
  const isoTotal = data.isoParts.reduce((s, p) => s + p.bytes, 0);
  const payloadTotal = data.payloadParts.reduce((s, p) => s + p.bytes, 0);
  const stageSum = data.timeline.stages.reduce((s, t) => s + t.seconds, 0);
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="iso-build">
<title>${esc(data.product)} ${esc(data.version)}: build report</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(data.product)} ${esc(data.version)}</h1>
<dl>
<dt>ISO</dt><dd>${esc(data.iso.name)} (${esc(humanBytes(data.iso.size))}, volume ${esc(data.iso.volumeId)}, ${esc(data.iso.layout)})</dd>
<dt>sha256</dt><dd class="hash">${esc(data.iso.sha256)}</dd>
${data.base ? `<dt>base ISO</dt><dd>${esc(data.base.name)} <span class="hash">${esc(data.base.sha256)}</span></dd>\n` : ''}<dt>SOURCE_DATE_EPOCH</dt><dd>${data.sourceDateEpoch} (${esc(date)})</dd>
</dl>
<section id="timeline">
<h2>Stage timeline</h2>
<p>${data.timeline.stages.length} stages, ${esc(seconds(stageSum))} in stages${data.timeline.totalSeconds !== undefined ? `, ${esc(seconds(data.timeline.totalSeconds))} for the whole pipeline` : ''} (from the build log).</p>
${timelineSvg(data.timeline)}
${data.timeline.stages.length && data.timeline.totalSeconds === undefined ? '<p class="none">The build wrote this page while it was still writing the release artifacts: the stages from there on are not shown (<code>iso-build report DIR --log WORK/build.log</code> redraws it with them).</p>\n' : ''}</section>
<section id="sizes">
<h2>Size of the ISO</h2>
${sizeSection(data.isoParts, isoTotal, 'part of the ISO')}
<h3>Payload inside the rootfs${data.payloadLayer ? ` (in ${esc(data.payloadLayer)}, uncompressed)` : ''}</h3>
${data.payloadParts.length ? sizeSection(data.payloadParts, payloadTotal, 'payload') : '<p class="none">no payload</p>'}
</section>
<section id="payload">
<h2>Payload</h2>
${payloadTable(data)}
</section>
<section id="changes">
<h2>Package changes</h2>
${changesSection(data)}
</section>
<script type="application/json" id="${REPORT_DATA_ID}">${json}</script>
</body>
</html>
`;
}

/** The data embedded in a report written by renderReport (undefined when there is none or it does not parse). */
export function embeddedReportData(html: string): ReportData | undefined {
  const m = new RegExp(`<script type="application/json" id="${REPORT_DATA_ID}">([^<]*)</script>`).exec(html);
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]!) as ReportData;
  } catch {
    return undefined;
  }
}
