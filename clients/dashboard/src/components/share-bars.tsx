import { LABEL_NAMES, type LabelName } from '../../../sdk/src';
import { LABEL_COLORS, LABEL_EMOJI } from '../labels';

/**
 * One bar per expression: its share (0..1) of whatever the page counts (frames of a face, face-seconds of history).
 * Each bar is a labelled meter, so a screen reader reads "happy 42" and colour is never the only cue.
 */
export function ShareBars({ share }: { share: (label: LabelName) => number }) {
  return (
    <ul class="bars">
      {LABEL_NAMES.map((l) => {
        const s = share(l);
        return (
          <li>
            <span class="bar-label">
              {LABEL_EMOJI[l]} {l}
            </span>
            <span class="bar" role="meter" aria-valuenow={Math.round(s * 100)} aria-valuemin={0} aria-valuemax={100} aria-label={l}>
              <span style={{ width: `${s * 100}%`, background: LABEL_COLORS[l] }} />
            </span>
            <span class="bar-value">{Math.round(s * 100)}%</span>
          </li>
        );
      })}
    </ul>
  );
}
