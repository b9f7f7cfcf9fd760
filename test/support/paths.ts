import { resolve } from 'node:path';

/**
 * Absolute paths every test tier shares. Specs live at different depths (src/**, test/integration, test/e2e), so they
 * never build a path from their own __dirname: a wrong `..` count would only make an `existsSync`-guarded test skip.
 */
export const ROOT = resolve(__dirname, '..', '..');
export const MODELS = resolve(ROOT, 'models');
/** The shared data folder next to the clone (videos, datasets): never copied into the repo. */
export const SHARED = resolve(ROOT, '..', 'shared');
export const VIDEOS = resolve(SHARED, 'videos');
export const D6 = resolve(VIDEOS, 'd6.mp4');
export const D0 = resolve(VIDEOS, 'd0.mp4');
export const DATASETS = resolve(SHARED, 'datasets');
export const JAFFE = resolve(DATASETS, 'jaffe');
export const TAIWANESE = resolve(DATASETS, 'taiwanese');
export const TSX = resolve(ROOT, 'node_modules', '.bin', 'tsx');
export const BUNDLED_FFMPEG = resolve(ROOT, 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
