"""A high-detail camera clip for Chromium's fake camera (``--use-file-for-fake-video-capture``).

Chromium's built-in fake camera draws a flat pattern that compresses to almost nothing, so the
bitrate a browser sends says little about what a real phone camera would need. This clip is made
with FFmpeg's filters (through PyAV, no other tool): a moving colour test pattern with text,
under fresh grain on every frame, as a phone's sensor gives in a dim room. At 1280x720 and 30 fps
VP8 needs about 1.4 Mbit/s for it at a high quality setting, and takes whatever more it is given.

Written as YUV4MPEG2 (``.y4m``, 4:2:0), which Chromium reads and loops.
"""

from __future__ import annotations

from pathlib import Path

import av

__all__ = ["write_detail_clip"]


def write_detail_clip(
    path: Path,
    *,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    frames: int = 60,
    grain: int = 14,
) -> Path:
    """Write the clip to ``path`` (about 1.4 MB per 720p frame) and return ``path``.

    ``grain``: the strength of the per-frame noise (FFmpeg's ``noise`` filter ``alls``).
    """
    graph = av.filter.Graph()
    source = graph.add("testsrc2", f"size={width}x{height}:rate={fps}")
    noise = graph.add("noise", f"alls={grain}:allf=t")
    pixels = graph.add("format", "yuv420p")
    sink = graph.add("buffersink")
    source.link_to(noise)
    noise.link_to(pixels)
    pixels.link_to(sink)
    graph.configure()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            frame = sink.pull()
            assert isinstance(frame, av.VideoFrame)
            out.write(b"FRAME\n")
            for index, plane in enumerate(frame.planes):
                plane_width = width if index == 0 else width // 2
                plane_height = height if index == 0 else height // 2
                data = bytes(plane)
                stride = plane.line_size
                if stride == plane_width:
                    out.write(data[: plane_width * plane_height])
                else:
                    for row in range(plane_height):
                        out.write(data[row * stride : row * stride + plane_width])
    return path
