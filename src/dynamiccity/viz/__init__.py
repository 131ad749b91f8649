"""Pictures of occupancy: bird's-eye and 3D voxel views, image grids, and PNG/GIF/MP4 writers.

Numpy and Pillow only (imageio's ffmpeg plugin for MP4): no GPU, OpenGL or matplotlib.
"""

from dynamiccity.viz.animate import render_frames, save_animation, tile_images
from dynamiccity.viz.bev import render_bev
from dynamiccity.viz.voxels3d import Camera, project, render_3d

__all__ = ["Camera", "project", "render_3d", "render_bev", "render_frames", "save_animation", "tile_images"]
