import { isAbsolute, normalize } from 'node:path';
import { IngestError } from './ingest.errors';

export type RtspTransport = 'tcp' | 'udp';
export type DeviceInputFormat = 'v4l2' | 'avfoundation' | 'dshow';

/** A validated camera source. `url` is the original URL (may hold credentials: never show it, use `redactUrl`). */
export type CameraSource =
  | { kind: 'rtsp'; url: string; transport: RtspTransport }
  | { kind: 'http'; url: string }
  | { kind: 'file'; url: string; path: string; loop: boolean }
  | { kind: 'device'; url: string; device: string; inputFormat: DeviceInputFormat };

export type SourceKind = CameraSource['kind'];

export interface ParseOptions {
  loop?: boolean;
  transport?: RtspTransport;
  /** Defaults to process.platform; decides the webcam input format. */
  platform?: NodeJS.Platform;
}

const MAX_URL_LENGTH = 2048;
// C0 controls, DEL and C1 controls: ffmpeg and logs must never see them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function invalid(message: string): IngestError {
  return new IngestError('invalid_url', message);
}

export function deviceInputFormat(platform: NodeJS.Platform = process.platform): DeviceInputFormat {
  if (platform === 'darwin') return 'avfoundation';
  if (platform === 'win32') return 'dshow';
  return 'v4l2';
}

/**
 * Parses and validates a camera URL. Accepted forms:
 *   rtsp://[user:pass@]host[:port]/path, rtsps://…   (transport tcp unless `transport: 'udp'`)
 *   http(s)://host/stream                             (MJPEG, HLS, …: whatever ffmpeg reads)
 *   file:///absolute/path.mp4                         (`loop` replays it forever)
 *   device:///dev/video0 (Linux v4l2), device:///0 (macOS avfoundation index), device:///video=Name (Windows dshow)
 * Anything else throws IngestError('invalid_url'). The message quotes the URL only redacted.
 */
export function parseCameraUrl(raw: string, options: ParseOptions = {}): CameraSource {
  if (typeof raw !== 'string' || raw.length === 0) throw invalid('camera URL is empty');
  if (raw.length > MAX_URL_LENGTH) throw invalid(`camera URL is longer than ${MAX_URL_LENGTH} characters`);
  if (CONTROL.test(raw)) throw invalid('camera URL contains control characters');
  if (raw !== raw.trim()) throw invalid('camera URL has leading or trailing spaces');
  // ffmpeg would read "-i -f …" style values as options if they ever reached it unquoted; spawn() passes an
  // argument array (no shell), and a URL must start with a scheme anyway, but say it plainly.
  if (raw.startsWith('-')) throw invalid('camera URL must not start with "-"');

  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw);
  if (!m) throw invalid(`camera URL needs a scheme (rtsp://, rtsps://, http://, https://, file://, device://): "${redactUrl(raw)}"`);
  const scheme = m[1].toLowerCase();

  switch (scheme) {
    case 'rtsp':
    case 'rtsps':
    case 'http':
    case 'https': {
      // The URL standard reads "\\" as "/" in http(s) URLs, ffmpeg does not: for http://a.example\\@169.254.169.254/
      // the destination policy would check a.example while ffmpeg connects to 169.254.169.254.
      if (raw.includes('\\')) throw invalid('camera URL must not contain "\\" (URL parsers and ffmpeg read it differently)');
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw invalid(`camera URL is not a valid URL: "${redactUrl(raw)}"`);
      }
      if (!u.hostname) throw invalid(`camera URL has no host: "${redactUrl(raw)}"`);
      if (u.hostname.startsWith('-')) throw invalid('camera URL host must not start with "-"');
      if (scheme.startsWith('rtsp')) {
        const transport = options.transport ?? 'tcp';
        if (transport !== 'tcp' && transport !== 'udp') throw invalid(`RTSP transport must be tcp or udp`);
        return { kind: 'rtsp', url: raw, transport };
      }
      return { kind: 'http', url: raw };
    }
    case 'file': {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw invalid(`file URL is not valid: "${redactUrl(raw)}"`);
      }
      if (u.host !== '' && u.host !== 'localhost') {
        throw invalid('file URL must be file:///absolute/path (three slashes; no host)');
      }
      if (u.search || u.hash) throw invalid('file URL must not have a query or fragment');
      let path: string;
      try {
        path = decodeURIComponent(u.pathname);
      } catch {
        throw invalid('file URL has a malformed %-escape');
      }
      if (CONTROL.test(path)) throw invalid('file path contains control characters');
      if (!isAbsolute(path)) throw invalid('file URL must hold an absolute path');
      if (path.endsWith('/')) throw invalid('file URL points to a directory');
      return { kind: 'file', url: raw, path: normalize(path), loop: options.loop ?? false };
    }
    case 'device': {
      const rest = raw.slice('device://'.length);
      let spec: string;
      try {
        spec = decodeURIComponent(rest);
      } catch {
        throw invalid('device URL has a malformed %-escape');
      }
      if (CONTROL.test(spec)) throw invalid('device URL contains control characters');
      const inputFormat = deviceInputFormat(options.platform);
      let device: string;
      if (inputFormat === 'v4l2') {
        device = normalize(spec);
        if (!/^\/dev\/[A-Za-z0-9._/-]+$/.test(device) || device.includes('..')) {
          throw invalid('device URL must name a device under /dev, e.g. device:///dev/video0');
        }
      } else {
        device = spec.replace(/^\//, '');
        if (device.length === 0) throw invalid('device URL names no device');
        if (device.startsWith('-')) throw invalid('device name must not start with "-"');
      }
      return { kind: 'device', url: raw, device, inputFormat };
    }
    default:
      throw invalid(`unsupported camera URL scheme "${scheme}:" (use rtsp, rtsps, http, https, file or device)`);
  }
}

/** Live sources never end on their own: any ffmpeg exit is a fault to recover from. */
export function isLiveSource(source: CameraSource): boolean {
  return source.kind !== 'file' || source.loop;
}

// Greedy userinfo: a password holding "@" is still covered up to the last "@" before the host.
const CREDENTIALS = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/?#\s]*@/g;

/**
 * Query parameters that carry secrets, case-insensitive: the listed names alone or after a prefix joined by `_`,
 * `-` or `.` (`access_token`, `x-api-key`, `X-Amz-Signature`, `client_secret`, `stream_key`), plus a few run-together
 * spellings. Over-redacting a harmless `?key=1` in a log costs nothing; leaking a token does.
 */
const SECRET_PARAM_WORDS = [
  'token', 'key', 'apikey', 'password', 'passwd', 'pass', 'pwd', 'auth', 'authorization', 'signature', 'sig',
  'secret', 'credential', 'credentials', 'session', 'sessionid', 'jwt',
];
const SECRET_PARAM_JOINED = ['accesstoken', 'authtoken', 'authkey', 'secretkey', 'accesskey', 'privatekey'];
const QUERY_SECRET = new RegExp(
  `([?&;](?:(?:[a-z0-9]+[_.-])*(?:${SECRET_PARAM_WORDS.join('|')})|${SECRET_PARAM_JOINED.join('|')})=)[^&#;\\s"'<>]*`,
  'gi',
);

/** `…?token=abc&fps=5` → `…?token=***&fps=5`, anywhere in a text. */
export function redactQuerySecrets(text: string): string {
  return text.replace(QUERY_SECRET, '$1***');
}

/**
 * Replaces credentials in a URL (or in any text holding URLs, e.g. an ffmpeg error line) with `***`: userinfo
 * (`rtsp://admin:secret@cam/x` → `rtsp://***@cam/x`) and secret query parameters (`?token=abc` → `?token=***`).
 * Only for showing and logging: ffmpeg gets the original URL.
 */
export function redactUrl(text: string): string {
  return redactQuerySecrets(text.replace(CREDENTIALS, '$1***@'));
}
