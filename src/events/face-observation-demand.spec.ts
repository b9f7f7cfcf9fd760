import { describe, expect, it } from 'vitest';
import { FaceObservationDemand } from './face-observation-demand';

describe('FaceObservationDemand', () => {
  it('enrols a camera while one of its wants is active, and forgets a want once released', () => {
    const demand = new FaceObservationDemand();
    expect(demand.enrols('cam')).toBe(false);
    let needs = true;
    const release = demand.want('cam', () => needs);
    expect(demand.enrols('cam')).toBe(true);
    expect(demand.enrols('other')).toBe(false);
    needs = false; // the label is full: no more embedding for this camera
    expect(demand.enrols('cam')).toBe(false);
    const second = demand.want('cam');
    expect(demand.enrols('cam')).toBe(true);
    second();
    expect(demand.enrols('cam')).toBe(false);
    needs = true;
    release();
    expect(demand.enrols('cam')).toBe(false);
    release(); // idempotent
    expect(demand.enrols('cam')).toBe(false);
  });
});
