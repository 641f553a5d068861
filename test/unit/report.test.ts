/** report.html pieces without a build: the timeline parser, payload kinds, escaping and the embedded data round trip. */
import { describe, expect, it } from 'vitest';
import { payloadKind, type ReportData } from '../../src/release/report-data.js';
import { parseTimeline } from '../../src/pipeline/timing-log.js';
import { embeddedReportData, humanBytes, renderReport } from '../../src/release/report-html.js';

const LOG = [
  'iso-build v1.0.0 profile /p/fixture.yaml',
  'pipeline starts 0.412 s after the process started',
  'stage "Verify base ISO" took 0.010 s',
  '$ xorriso -osirrox on ...',
  'stage "Extract ISO tree" took 1.500 s',
  'stage "Write \\"quoted\\" <things>" took 2.250 s',
  'pipeline done 4.912 s after the process started',
].join('\n');

function data(over: Partial<ReportData> = {}): ReportData {
  return {
    product: 'P <&>',
    version: 'v1.0.0',
    iso: { name: 'p-v1.0.0.iso', sha256: 'a'.repeat(64), size: 3 << 20, volumeId: 'P', layout: 'casper' },
    sourceDateEpoch: 1700000000,
    timeline: parseTimeline(LOG),
    isoParts: [{ label: '/casper/filesystem.squashfs', bytes: 2 << 20, kind: 'layer' }, { label: 'rest', bytes: 1 << 20, kind: 'tree', files: 3 }],
    payloadParts: [],
    payload: [],
    packageCount: 0,
    ...over,
  };
}

describe('report data', () => {
  it('reads the stage timings and the pipeline span of a build log, stages one after the other', () => {
    expect(parseTimeline(LOG)).toEqual({
      stages: [
        { title: 'Verify base ISO', start: 0, seconds: 0.01 },
        { title: 'Extract ISO tree', start: 0.01, seconds: 1.5 },
        { title: 'Write \\"quoted\\" <things>', start: 1.51, seconds: 2.25 },
      ],
      totalSeconds: 4.5,
    });
    expect(parseTimeline('stage "x" took 1 s\n').totalSeconds).toBeUndefined();
  });

  it('tells debs, images and charts of the payload apart', () => {
    expect(['system/jq_1.6_amd64.deb', 'images/hello.tar', 'images/images.txt', 'charts/hello-0.1.0.tgz', 'charts/index.yaml', 'system/Release'].map(payloadKind)).toEqual([
      'deb', 'image', 'other', 'chart', 'other', 'other',
    ]);
  });

  it('formats sizes in binary units', () => {
    expect([0, 1023, 1024, 1536 << 10, 5 * 2 ** 30].map(humanBytes)).toEqual(['0 B', '1023 B', '1.00 KiB', '1.50 MiB', '5.00 GiB']);
  });
});

describe('report page', () => {
  it('escapes what it shows, loads nothing, and embeds its data for a redraw', () => {
    const html = renderReport(data());
    expect(html).toContain('<h1>P &#60;&#38;&#62; v1.0.0</h1>');
    expect(html).toContain('Write \\&#34;quoted\\&#34; &#60;things&#62;');
    expect(html).not.toMatch(/\b(src|href)=|url\(/);
    expect(html).toContain("content=\"default-src 'none'; style-src 'unsafe-inline'\"");
    expect(embeddedReportData(html)).toEqual(data());
    expect(renderReport(data())).toBe(html);
    // a timeline without the pipeline's end says the last stages are missing
    expect(renderReport(data({ timeline: parseTimeline('stage "x" took 1 s\n') }))).toContain('stages from there on are not shown');
  });
});
