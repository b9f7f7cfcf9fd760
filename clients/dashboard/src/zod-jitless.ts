// The dashboard runs under a CSP without 'unsafe-eval' (src/delivery/http-edge.ts). zod v4 probes `new Function` when
// its first object schema is built (the shared protocol module builds them at import); the throw is caught, but the
// browser still reports a CSP violation. `jitless` skips the probe: zod parses the same without generated code.
// Imported first in main.tsx so it runs before any schema is built.
import { config } from 'zod';

config({ jitless: true });
