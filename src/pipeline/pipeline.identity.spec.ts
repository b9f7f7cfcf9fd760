import { filter, firstValueFrom, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../contracts/events';
import type { Frame } from '../contracts/frames';
import { DEFAULT_CROP } from '../inference/face-crop';
import type { FaceRecognizer } from '../inference/face.recognizer';
import { GeneralHeadResolver } from '../inference/head.resolver';
import type { AnalyzedFace, AnalyzeRequest } from '../inference/inference.types';
import { DEFAULT_IDENTITY_SCHEDULE } from './identity-scheduler';
import { expressionPipeline } from './pipeline';
import { PipelineMetrics } from './pipeline.metrics';

/**
 * The pipeline's identity path with fakes (no models): a detector that finds one frontal face per frame and, when the
 * request asks about it, "aligns" it as one view holding the person shown (frame.data[0]); an embedder that turns the
 * view into a vector whose first value is that person; a recogniser that names that person. The embedding is made
 * beside the batch, so a track is decided from it at its next frame. Checks what the events carry with IDENTITY=face and that IDENTITY=off is unchanged.
 */
const FRONTAL = [80, 100, 120, 100, 100, 125, 85, 150, 115, 150];
const PEOPLE: Record<number, string | null> = { 1: 'ann', 2: 'bob', 9: null };

function setup(identity: boolean, people: Record<number, string | null> = PEOPLE) {
  let t = 0;
  let embedded = 0;
  const requests: AnalyzeRequest[] = [];
  const detector = {
    detect: async () => [],
    analyze: async (images: readonly { data: Uint8Array }[], request: AnalyzeRequest): Promise<AnalyzedFace[][]> => {
      requests.push(request);
      return images.map((im, i) => {
        const face: AnalyzedFace = {
          detection: { box: { x: 50, y: 50, w: 100, h: 120 }, score: 0.9, landmarks: FRONTAL },
          region: { x: 50, y: 50, w: 100, h: 100 },
          crop48: new Uint8Array(48 * 48),
          features: new Float32Array(2048),
        };
        if ((request.identity?.frames[i] ?? []).length > 0) face.identity = { views: [Uint8Array.of(im.data[0])] };
        return [face];
      });
    },
  };
  const recognizer: FaceRecognizer & { version: number } = {
    size: 2,
    version: 0,
    match: (probes) => {
      const who = people[probes[probes.length - 1][0]] ?? null;
      return { userId: who, distance: who ? 0.1 : 0.4, margin: who ? 0.8 : 0 };
    },
  };
  const metrics = new PipelineMetrics();
  const p = expressionPipeline(
    {
      detector,
      trunk: { features: async () => new Float32Array(0), release: async () => {} },
      generalHead: { run: async (_f, n) => new Float32Array(n * 7) },
      heads: new GeneralHeadResolver(),
      metrics,
      recognizer,
      embedder: {
        embedFaces: async (faces) => {
          embedded += faces.length;
          return faces.map((views) => Float32Array.from({ length: 128 }, (_, j) => (j === 0 ? views[0][0] : 0)));
        },
      },
    },
    {
      batchSize: 1,
      batchTimeoutMs: 0,
      smoothing: 0,
      tracker: { iouThreshold: 0.3, graceFrames: 0 },
      crop: DEFAULT_CROP,
      identity: identity ? { schedule: { ...DEFAULT_IDENTITY_SCHEDULE, firstFrames: 1, recheckMs: 100, maxRecheckMs: 100, keep: 1 }, clock: () => t } : null,
    },
  );
  const source = new Subject<Frame>();
  const events: PipelineEvent[] = [];
  const out = new Subject<PipelineEvent>();
  source.pipe(p.operator).subscribe((e) => {
    events.push(e);
    out.next(e);
  });
  let frameId = 0;
  /** Shows person `who` in the next frame and waits for its expression event. */
  const show = async (who: number) => {
    t += 60;
    const id = ++frameId;
    const done = firstValueFrom(out.pipe(filter((e) => e.type === 'expression' && e.frameId === id)));
    source.next({ cameraId: 'cam', frameId: id, ts: id, width: 200, height: 200, data: Buffer.alloc(200 * 200 * 3, who) });
    await done;
  };
  return { show, events, requests, metrics, recognizer, pipeline: p, embedded: () => embedded };
}

describe('pipeline identity (fakes)', () => {
  it('IDENTITY=face: events carry userId/personalized/identity; identity.changed when recognition changes its mind', async () => {
    const { show, events, requests, metrics, embedded } = setup(true);
    await show(1); // new track: not asked about on its first frame (the scheduler learns of it after tracking)
    await show(1); // asked: embedded beside the batch
    await show(2); // decided from frame 2's embedding: ann (frame 3 itself is within the 100 ms re-check interval)
    await show(2); // re-checked: embedded
    await show(2); // decided: bob
    const enter = events.find((e) => e.type === 'face.enter')!;
    expect(enter).toEqual({ type: 'face.enter', cameraId: 'cam', trackId: 1, ts: 1, userId: null, personalized: false, identity: null });
    const faces = events.flatMap((e) => (e.type === 'expression' ? e.faces : []));
    expect(faces[0]).toMatchObject({ userId: null, personalized: false, identity: null });
    expect(faces[1]).toMatchObject({ userId: null, identity: null }); // its embedding is still being made
    expect(faces[2]).toMatchObject({ userId: 'ann', personalized: false, identity: { source: 'face', distance: 0.1, margin: 0.8 } });
    expect(faces.at(-1)).toMatchObject({ userId: 'bob', identity: { source: 'face' } });
    const changes = events.filter((e) => e.type === 'identity.changed');
    expect(changes).toEqual([
      { type: 'identity.changed', cameraId: 'cam', trackId: 1, ts: 3, userId: 'ann', previousUserId: null, identity: { source: 'face', distance: 0.1, margin: 0.8 } },
      expect.objectContaining({ type: 'identity.changed', ts: 5, userId: 'bob', previousUserId: 'ann' }),
    ]);
    // identity.changed comes before the expression event of its frame
    const i = events.indexOf(changes[0]);
    expect(events[i + 1]).toMatchObject({ type: 'expression', frameId: 3 });
    expect(requests[0].identity).toBeUndefined();
    expect(requests[1].identity?.frames).toEqual([[{ x: 50, y: 50, w: 100, h: 120 }]]);
    expect(requests[2].identity).toBeUndefined();
    expect(requests[3].identity?.frames).toEqual([[{ x: 50, y: 50, w: 100, h: 120 }]]);
    expect(embedded()).toBe(2);
    expect(metrics.snapshot().identityEmbedded).toBe(2);
    // the scheduler's measured load is published (starts at 1, decays while the fake batches take no time)
    expect(metrics.snapshot().identityLoad).toBeGreaterThan(0);
    expect(metrics.snapshot().identityLoad).toBeLessThan(1);
  });

  it('IDENTITY=off: no embedding asked, events exactly as before (no identity fields, no identity.changed)', async () => {
    const { show, events, requests } = setup(false);
    for (const who of [1, 1, 2, 2]) await show(who);
    expect(requests.every((r) => r.identity === undefined)).toBe(true);
    expect(events.find((e) => e.type === 'face.enter')).toEqual({ type: 'face.enter', cameraId: 'cam', trackId: 1, ts: 1, userId: null });
    expect(events.some((e) => e.type === 'identity.changed')).toBe(false);
    for (const e of events) if (e.type === 'expression') for (const f of e.faces) expect(Object.keys(f)).not.toContain('identity');
  });

  it('a gallery change re-decides open tracks from their stored embeddings at once: identity.changed, no new embedding', async () => {
    const people: Record<number, string | null> = { ...PEOPLE };
    const { show, events, requests, recognizer, pipeline } = setup(true, people);
    await show(9);
    await show(9); // embedded: a stranger
    const asked = () => requests.filter((r) => (r.identity?.frames ?? []).some((f) => f.length > 0)).length;
    const embeddedBefore = asked();
    expect(embeddedBefore).toBe(1);
    expect(events.filter((e) => e.type === 'identity.changed')).toEqual([]);
    // "this is Cy": the gallery now knows person 9
    people[9] = 'cy';
    recognizer.version++;
    const changed = await pipeline.rematch();
    expect(changed).toEqual([
      { type: 'identity.changed', cameraId: 'cam', trackId: 1, ts: expect.any(Number), userId: 'cy', previousUserId: null, identity: { source: 'face', distance: 0.1, margin: 0.8 } },
    ]);
    expect(asked()).toBe(embeddedBefore); // decided from the embedding it had
    // the next frame (well within the re-check interval: no new embedding) carries Cy, without a second identity.changed
    await show(9);
    expect(asked()).toBe(embeddedBefore);
    const last = events.filter((e) => e.type === 'expression').at(-1)!;
    expect(last.type === 'expression' && last.faces[0]).toMatchObject({ userId: 'cy', identity: { source: 'face' } });
    expect(events.filter((e) => e.type === 'identity.changed')).toEqual([]); // the rematch's events are the caller's to send
    // Cy deleted: back to nobody at once
    people[9] = null;
    recognizer.version++;
    expect(await pipeline.rematch()).toEqual([expect.objectContaining({ type: 'identity.changed', userId: null, previousUserId: 'cy', identity: null })]);
    expect(await pipeline.rematch()).toEqual([]); // nothing changed since
  });

  it('IDENTITY=off: rematch is a no-op', async () => {
    const { show, pipeline } = setup(false);
    await show(1);
    expect(await pipeline.rematch()).toEqual([]);
  });
});
