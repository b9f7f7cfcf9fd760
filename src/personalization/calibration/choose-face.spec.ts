import { describe, expect, it } from 'vitest';
import { chooseFace } from './choose-face';

describe('chooseFace', () => {
  it('takes the single face in view, refuses none or several unassigned', () => {
    expect(chooseFace([3], 'ana', new Map())).toEqual({ trackId: 3 });
    expect(chooseFace([], 'ana', new Map())).toEqual({ reason: 'no_face' });
    expect(chooseFace([3, 4], 'ana', new Map())).toEqual({ reason: 'several_faces' });
  });
  it("a track assigned to the user wins; someone else's track is never taken", () => {
    expect(chooseFace([3, 4, 5], 'ana', new Map([[4, 'ana']]))).toEqual({ trackId: 4 });
    expect(chooseFace([3, 4], 'ana', new Map([[4, 'bob']]))).toEqual({ trackId: 3 });
    expect(chooseFace([4], 'ana', new Map([[4, 'bob']]))).toEqual({ reason: 'no_face' });
    // the user's assigned face left the view: the other face is not silently used instead
    expect(chooseFace([3], 'ana', new Map([[9, 'ana']]))).toEqual({ reason: 'no_face' });
  });
});
