/** Which face of a frame is the calibrating user's. Pure: unit-tested in choose-face.spec.ts. */
export type FaceChoice = { trackId: number } | { reason: 'no_face' | 'several_faces' };

/**
 * `inView`: track ids in the frame. `assigned`: tracks of this camera assigned (track.assign) to some user.
 * A track assigned to this user wins (and if it is out of view, the user's face is missing); tracks assigned to
 * someone else are never taken; otherwise the single remaining face is the user's.
 */
export function chooseFace(inView: readonly number[], userId: string, assigned: ReadonlyMap<number, string>): FaceChoice {
  const mine = [...assigned].filter(([, u]) => u === userId).map(([t]) => t);
  if (mine.length) {
    const t = inView.find((id) => mine.includes(id));
    return t === undefined ? { reason: 'no_face' } : { trackId: t };
  }
  const free = inView.filter((t) => !assigned.has(t));
  if (free.length === 0) return { reason: 'no_face' };
  if (free.length > 1) return { reason: 'several_faces' };
  return { trackId: free[0] };
}
