import { spawnSync } from 'node:child_process';

/**
 * A Python 3 that can import torch (the training scripts' interpreter): $PYTHON, else Debian's /usr/bin/python3
 * (where apt's python3-torch lands), else python3 on PATH. Missing: a skip with the install command, a failure on CI.
 */
export function requireTorchPython(): string | null {
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch, numpy, PIL, onnx'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  const message = 'python3 with torch is not installed: `apt-get install -y python3-torch python3-numpy python3-pil python3-onnx`';
  if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
  console.warn(`skipping: ${message}`);
  return null;
}
