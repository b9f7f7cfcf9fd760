/**
 * Face identification on a per-subject set: `<root>/<subject>/{calibration,test}/<label>/*` (whole photos).
 *
 *   npm run bench:identity -- --data <root> [--unknown N] [--seed n] [--json]
 *
 * Every photo: YuNet (largest face) → similarity alignment from its 5 landmarks → dlib face embedding (ONNX) of
 * three zooms of the aligned crop and their mirror images, averaged.
 * Every subject except `--unknown N` held-out ones (a seeded shuffle of the sorted subject names; default 20% of the
 * subjects, rounded) is enrolled with all of their `calibration` faces; then every `test` photo of every subject is
 * identified with the FaceMatcher (threshold + margin; one frame per photo).
 *
 * --json prints one object: {enrolled, unknown, faces, top1, falseAccept, falseReject, msPerFace, threshold}
 *   top1        share of enrolled subjects' test photos assigned to the right user
 *   falseAccept share of unknown subjects' test photos assigned to anybody
 *   falseReject share of enrolled subjects' test photos assigned to nobody
 *   msPerFace   wall time per photo for detect + align + embed (decode excluded); the embedding alone is on stderr
 * A test photo in which YuNet finds no face counts as assigned to nobody.
 *
 * Measurement options (docs/IDENTITY.md): --template dlib|arcface|box, --no-flip (no test-time flip),
 * --scales 1,0.93,1.07 (test-time zooms; the default), --gallery nearest|mean, --k n, --mouth-weight w,
 * --threshold x, --margin x (relative), --models dir, --threads n.
 * --calibrate: enrol every subject of every --data root (repeatable) and print the genuine / nearest-impostor
 * distance distributions and the threshold and margin the documented rule picks from them; --dump <file> also
 * writes every probe's genuine / stranger distances as JSON.
 */
import { Logger } from '@nestjs/common';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { arcfaceTemplate, boxTransform, dlibTemplate, largestFace, scaleAbout, similarityTransform, VIEW_SCALES, warpToCrop } from '../src/inference/embedding/face-align';
import { FaceEmbedder, faceEmbeddingPath } from '../src/inference/embedding/face-embedder';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { YunetDetector } from '../src/inference/yunet.detector';
import { DEFAULT_FACE_MATCH, FaceMatcher, FaceMatchOptions } from '../src/personalization/identity/face-matcher';

type TemplateName = 'dlib' | 'arcface' | 'box';
const MOUTH_WEIGHT_DEFAULT = 1;

interface Args {
  data: string[];
  unknown: number | null;
  seed: number;
  json: boolean;
  models: string;
  threads: number;
  template: TemplateName;
  flip: boolean;
  match: FaceMatchOptions;
  calibrate: boolean;
  mouthWeight: number;
  dump: string;
  scales: number[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    data: [],
    unknown: null,
    seed: 1,
    json: false,
    models: resolve(__dirname, '..', 'models'),
    threads: 2,
    template: 'dlib',
    flip: true,
    match: { ...DEFAULT_FACE_MATCH },
    calibrate: false,
    mouthWeight: MOUTH_WEIGHT_DEFAULT,
    dump: '',
    scales: [...VIEW_SCALES],
  };
  const num = (i: number) => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isFinite(v)) throw new Error(`${argv[i - 1]} needs a number, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--data') a.data.push(resolve(argv[++i]));
    else if (k === '--unknown') a.unknown = num(++i);
    else if (k === '--seed') a.seed = num(++i);
    else if (k === '--json') a.json = true;
    else if (k === '--models') a.models = resolve(argv[++i]);
    else if (k === '--threads') a.threads = num(++i);
    else if (k === '--template') {
      const t = argv[++i];
      if (t !== 'dlib' && t !== 'arcface' && t !== 'box') throw new Error('--template dlib|arcface|box');
      a.template = t;
    } else if (k === '--flip') a.flip = true;
    else if (k === '--no-flip') a.flip = false;
    else if (k === '--gallery') {
      const g = argv[++i];
      if (g !== 'nearest' && g !== 'mean') throw new Error('--gallery nearest|mean');
      a.match.gallery = g;
    } else if (k === '--threshold') a.match.threshold = num(++i);
    else if (k === '--margin') a.match.margin = num(++i);
    else if (k === '--k') a.match.k = num(++i);
    else if (k === '--mouth-weight') a.mouthWeight = num(++i);
    else if (k === '--calibrate') a.calibrate = true;
    else if (k === '--dump') a.dump = resolve(argv[++i]);
    else if (k === '--scales') a.scales = argv[++i].split(',').map(Number);
    else if (k === '--help' || k === '-h') {
      console.log(
        'usage: bench-identity --data <root> [--unknown N] [--seed n] [--json] [--template dlib|arcface|box] [--no-flip] [--scales 1,0.93,1.07] [--gallery nearest|mean] [--threshold x] [--margin x] [--models dir] [--threads n] | --calibrate --data <root> [--data <root> ...] [--dump file]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (a.data.length === 0) throw new Error('--data <root> is required');
  if (!a.calibrate && a.data.length > 1) throw new Error('one --data root per run (several only with --calibrate)');
  if (a.unknown !== null && (!Number.isInteger(a.unknown) || a.unknown < 0)) throw new Error('--unknown needs a whole number ≥ 0');
  return a;
}

const dirs = (p: string) => readdirSync(p).filter((n) => statSync(join(p, n)).isDirectory()).sort();

/** mulberry32: a small seeded generator, so the held-out subjects are the same on every machine. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function chooseUnknown(subjects: readonly string[], n: number, seed: number): Set<string> {
  const order = [...subjects].sort();
  const r = rng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return new Set(order.slice(0, n));
}

interface Timing {
  faces: number;
  totalMs: number;
  embedMs: number;
}

class FacePipeline {
  constructor(
    private readonly detector: YunetDetector,
    private readonly embedder: FaceEmbedder,
    private readonly template: TemplateName,
    private readonly weights: number[],
    private readonly scales: number[],
    readonly timing: Timing = { faces: 0, totalMs: 0, embedMs: 0 },
  ) {}

  /** One photo → its largest face's embedding, or null when no face is found. */
  async embedPhoto(file: string): Promise<Float32Array | null> {
    const { data, info } = await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const t0 = performance.now();
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const bgr = new Uint8Array(rgb.length);
    for (let i = 0; i < bgr.length; i += 3) {
      bgr[i] = rgb[i + 2];
      bgr[i + 1] = rgb[i + 1];
      bgr[i + 2] = rgb[i];
    }
    const [found] = await this.detector.detect([{ data: bgr, width: info.width, height: info.height }]);
    const face = largestFace(found);
    if (!face) return null;
    const image = { data: rgb, width: info.width, height: info.height };
    const template = this.template === 'dlib' ? dlibTemplate() : arcfaceTemplate();
    const transform = this.template === 'box' ? boxTransform(face.box) : similarityTransform(face.landmarks, template, this.weights);
    const crops = this.scales.map((k) => warpToCrop(image, 'rgb', scaleAbout(transform, k)));
    const t1 = performance.now();
    const [embedding] = await this.embedder.embedFaces([crops]);
    const t2 = performance.now();
    this.timing.faces++;
    this.timing.totalMs += t2 - t0;
    this.timing.embedMs += t2 - t1;
    return embedding;
  }
}

interface SubjectFaces {
  subject: string;
  calibration: Float32Array[];
  test: (Float32Array | null)[];
}

async function loadSet(root: string, pipeline: FacePipeline, log: (s: string) => void): Promise<SubjectFaces[]> {
  const out: SubjectFaces[] = [];
  for (const subject of dirs(root)) {
    const faces: SubjectFaces = { subject, calibration: [], test: [] };
    for (const split of ['calibration', 'test'] as const) {
      const splitDir = join(root, subject, split);
      for (const label of dirs(splitDir)) {
        for (const file of readdirSync(join(splitDir, label)).sort()) {
          const e = await pipeline.embedPhoto(join(splitDir, label, file));
          if (split === 'test') faces.test.push(e);
          else if (e) faces.calibration.push(e);
        }
      }
    }
    log(`${subject}: ${faces.calibration.length} calibration faces, ${faces.test.length} test photos (${faces.test.filter((t) => !t).length} without a face)`);
    out.push(faces);
  }
  return out;
}

export interface IdentityResult {
  enrolled: number;
  unknown: number;
  faces: number;
  top1: number;
  falseAccept: number;
  falseReject: number;
  msPerFace: number;
  threshold: number;
}

function evaluate(set: SubjectFaces[], unknown: Set<string>, match: FaceMatchOptions): Omit<IdentityResult, 'msPerFace'> & { margin: number } {
  const matcher = new FaceMatcher(
    set.filter((s) => !unknown.has(s.subject)).map((s) => ({ userId: s.subject, embeddings: s.calibration })),
    match,
  );
  let known = 0;
  let right = 0;
  let rejected = 0;
  let strangers = 0;
  let accepted = 0;
  for (const s of set) {
    for (const probe of s.test) {
      const who = probe ? matcher.match([probe]).userId : null;
      if (unknown.has(s.subject)) {
        strangers++;
        if (who !== null) accepted++;
      } else {
        known++;
        if (who === s.subject) right++;
        if (who === null) rejected++;
      }
    }
  }
  return {
    enrolled: matcher.size,
    unknown: unknown.size,
    faces: known + strangers,
    top1: known ? right / known : NaN,
    falseAccept: strangers ? accepted / strangers : 0,
    falseReject: known ? rejected / known : NaN,
    threshold: match.threshold,
    margin: match.margin,
  };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];

/** One test probe seen two ways: as an enrolled user (own subject in the gallery) and as a stranger (left out). */
interface CalibrationProbe {
  set: number;
  subject: string;
  /** own subject enrolled: is the own subject nearest, its distance, and the nearest other subject's distance */
  ownNearest: boolean;
  genuine: number;
  genuineSecond: number;
  /** own subject left out (leave-one-subject-out): the nearest and second-nearest other subjects' distances */
  stranger: number;
  strangerSecond: number;
}

function calibrationProbes(sets: SubjectFaces[][], gallery: Pick<FaceMatchOptions, 'gallery' | 'k'>): CalibrationProbe[] {
  const probes: CalibrationProbe[] = [];
  sets.forEach((faces, set) => {
    const matcher = new FaceMatcher(
      faces.map((s) => ({ userId: s.subject, embeddings: s.calibration })),
      { threshold: 1, margin: 0, gallery: gallery.gallery, k: gallery.k },
    );
    for (const s of faces) {
      for (const probe of s.test) {
        if (!probe) continue;
        const d = matcher.distances(probe);
        const own = d.find((x) => x.userId === s.subject);
        const others = d.filter((x) => x.userId !== s.subject);
        if (!own || others.length < 2) continue;
        probes.push({
          set,
          subject: s.subject,
          ownNearest: d[0].userId === s.subject,
          genuine: own.distance,
          genuineSecond: d[0].userId === s.subject ? d[1].distance : own.distance,
          stranger: others[0].distance,
          strangerSecond: others[1].distance,
        });
      }
    }
  });
  return probes;
}

/** The FaceMatcher's rule on one probe's nearest and second-nearest distances. */
const accepts = (d1: number, d2: number, threshold: number, margin: number) => d1 <= threshold && d2 >= (1 + margin) * d1;

/**
 * The calibration rule (docs/IDENTITY.md). Every subject of every set is enrolled; each test probe is scored twice:
 * as a known user (accepted iff its own subject is nearest, within the threshold, and the runner-up is at least the
 * margin further, relatively: second ≥ (1 + margin) · nearest) and, leaving its own subject out of the gallery, as a
 * stranger (accepted iff the nearest other subject is within the threshold with the margin). Over a grid of (threshold, margin), keep the pairs whose
 * stranger acceptance is at most `targetFa` (1%: half the 2% bar, headroom for a set not seen here) on EVERY set,
 * and take the one with the best worst-set genuine acceptance; ties → the larger margin, then the smaller threshold.
 */
export function calibrate(probes: CalibrationProbe[], sets: number, targetFa = 0.01): { threshold: number; margin: number; perSet: { genuineAccept: number; strangerAccept: number }[] } {
  const rate = (m: number, t: number, which: 'genuine' | 'stranger') =>
    Array.from({ length: sets }, (_, set) => {
      const mine = probes.filter((p) => p.set === set);
      const ok = mine.filter((p) =>
        which === 'genuine' ? p.ownNearest && accepts(p.genuine, p.genuineSecond, t, m) : accepts(p.stranger, p.strangerSecond, t, m),
      ).length;
      return mine.length ? ok / mine.length : 0;
    });
  let best: { threshold: number; margin: number; score: number } | null = null;
  for (let mi = 0; mi <= 40; mi++) {
    const margin = +(mi * 0.025).toFixed(3);
    for (let ti = 1; ti <= 120; ti++) {
      const threshold = +(ti * 0.005).toFixed(3);
      if (Math.max(...rate(margin, threshold, 'stranger')) > targetFa) continue;
      const score = Math.min(...rate(margin, threshold, 'genuine'));
      const better =
        !best || score > best.score + 1e-12 || (Math.abs(score - best.score) <= 1e-12 && (margin > best.margin || (margin === best.margin && threshold < best.threshold)));
      if (better) best = { threshold, margin, score };
    }
  }
  if (!best) throw new Error('no threshold/margin meets the false-accept target');
  const g = rate(best.margin, best.threshold, 'genuine');
  const st = rate(best.margin, best.threshold, 'stranger');
  return { threshold: best.threshold, margin: best.margin, perSet: g.map((v, i) => ({ genuineAccept: +v.toFixed(4), strangerAccept: +st[i].toFixed(4) })) };
}

function describe(probes: CalibrationProbe[], set: number): Record<string, Record<string, number>> {
  const mine = probes.filter((p) => p.set === set);
  const q = (arr: number[]) => {
    const sorted = [...arr].sort((a, b) => a - b);
    return Object.fromEntries([0.01, 0.05, 0.5, 0.95, 0.99].map((p) => [`p${p * 100}`, +quantile(sorted, p).toFixed(4)]));
  };
  return {
    genuine: q(mine.map((p) => p.genuine)),
    genuineRelativeMargin: q(mine.map((p) => (p.ownNearest ? p.genuineSecond / p.genuine - 1 : -1))),
    stranger: q(mine.map((p) => p.stranger)),
    strangerRelativeMargin: q(mine.map((p) => p.strangerSecond / p.stranger - 1)),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  Logger.overrideLogger(['error']);
  const log = args.json ? (s: string) => process.stderr.write(`${s}\n`) : (s: string) => console.log(s);
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: args.threads });
  const detector = new YunetDetector(await factory.create(join(args.models, 'face-detection', 'yunet_s_dynamic.onnx')), {
    size: 320,
    scoreThreshold: 0.6,
    nmsIou: 0.3,
    minFacePixels: 24,
  });
  const embedder = await FaceEmbedder.create(factory, faceEmbeddingPath(args.models), { flip: args.flip });
  const pipeline = new FacePipeline(detector, embedder, args.template, [1, 1, 1, args.mouthWeight, args.mouthWeight], args.scales);
  try {
    const sets: { root: string; faces: SubjectFaces[] }[] = [];
    for (const root of args.data) sets.push({ root, faces: await loadSet(root, pipeline, args.json ? () => undefined : log) });
    const t = pipeline.timing;
    const msPerFace = t.totalMs / Math.max(1, t.faces);
    log(`per face: ${msPerFace.toFixed(1)} ms detect + align + embed, ${(t.embedMs / Math.max(1, t.faces)).toFixed(1)} ms embed alone (${t.faces} faces, ${args.threads} ORT threads)`);
    if (args.calibrate) {
      const probes = calibrationProbes(
        sets.map((s) => s.faces),
        args.match,
      );
      if (args.dump) writeFileSync(args.dump, JSON.stringify(probes));
      const c = calibrate(probes, sets.length);
      const rejectedBySubject = (i: number) => {
        const counts: Record<string, number> = {};
        for (const p of probes) {
          if (p.set !== i || (p.ownNearest && accepts(p.genuine, p.genuineSecond, c.threshold, c.margin))) continue;
          counts[p.subject] = (counts[p.subject] ?? 0) + 1;
        }
        return counts;
      };
      const report = sets.map((s, i) => ({
        root: s.root,
        probes: probes.filter((p) => p.set === i).length,
        ...c.perSet[i],
        ...describe(probes, i),
        genuineRejectedBySubject: rejectedBySubject(i),
      }));
      console.log(JSON.stringify({ template: args.template, mouthWeight: args.mouthWeight, flip: args.flip, gallery: args.match.gallery, k: args.match.k ?? 1, threshold: c.threshold, margin: c.margin, sets: report }, null, 2));
      return;
    }
    const faces = sets[0].faces;
    const n = args.unknown ?? Math.round(0.2 * faces.length);
    if (n >= faces.length) throw new Error(`--unknown ${n} leaves nobody to enrol (${faces.length} subjects)`);
    const unknown = chooseUnknown(
      faces.map((s) => s.subject),
      n,
      args.seed,
    );
    const r = evaluate(faces, unknown, args.match);
    const result: IdentityResult = {
      enrolled: r.enrolled,
      unknown: r.unknown,
      faces: r.faces,
      top1: +r.top1.toFixed(4),
      falseAccept: +r.falseAccept.toFixed(4),
      falseReject: +r.falseReject.toFixed(4),
      msPerFace: +msPerFace.toFixed(1),
      threshold: r.threshold,
    };
    if (args.json) console.log(JSON.stringify(result));
    else {
      log(`held out: ${[...unknown].sort().join(', ') || '(none)'}; template ${args.template}${args.flip ? ' + flip' : ''}, gallery ${args.match.gallery}, threshold ${r.threshold}, margin ${r.margin}`);
      log(JSON.stringify(result, null, 2));
    }
  } finally {
    await Promise.allSettled([detector.release(), embedder.release()]);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
