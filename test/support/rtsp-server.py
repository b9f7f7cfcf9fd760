#!/usr/bin/python3
"""Test RTSP server: serves a video file as H.264 over RTSP (TCP and UDP) at rtsp://127.0.0.1:PORT/stream.

usage: rtsp-server.py PORT VIDEO [--loops N] [--ffmpeg PATH]

The file is remuxed once (no re-encode) into N back-to-back copies with continuous timestamps so the stream
"loops" for N x its duration without EOS handling in GStreamer; the copy is cached in the temp dir.
Prints READY once the port is listening. Debian packages: gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-{base,good,
bad,ugly}, gstreamer1.0-libav, python3-gi (and ffmpeg for the remux).
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def looped_copy(video: str, loops: int, ffmpeg: str) -> str:
    if loops <= 1:
        return video
    st = os.stat(video)
    key = hashlib.sha1(f'{os.path.abspath(video)}:{st.st_size}:{st.st_mtime_ns}:{loops}'.encode()).hexdigest()[:16]
    out = os.path.join(tempfile.gettempdir(), f'rtsp-test-{key}.mp4')
    if not os.path.exists(out):
        tmp = f'{out}.{os.getpid()}.part.mp4'
        subprocess.run(
            [ffmpeg, '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', str(loops - 1),
             '-i', video, '-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', tmp],
            check=True,
        )
        os.replace(tmp, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('port', type=int)
    ap.add_argument('video')
    ap.add_argument('--loops', type=int, default=20)
    ap.add_argument('--ffmpeg', default=os.environ.get('FFMPEG', 'ffmpeg'))
    args = ap.parse_args()

    path = looped_copy(args.video, args.loops, args.ffmpeg)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # Each client gets its own pipeline from the start of the file; H.264 is passed through unchanged.
    location = path.replace('\\', '\\\\').replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1 '
        f'! rtph264pay name=pay0 pt=96 config-interval=-1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory('/stream', factory)
    if server.attach(None) == 0:
        print(f'cannot listen on port {args.port}', file=sys.stderr, flush=True)
        sys.exit(1)
    print('READY', flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
