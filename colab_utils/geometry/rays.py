"""Viewing rays of a pinhole camera and where they meet a horizontal plane.

The ball3d model works along these rays: a detection at pixel (u, v) says the ball's centre
is somewhere on the ray ``position + depth * direction``; the "ball on the ground" answer
is the depth where that ray meets the plane of a resting ball's centre.
"""

from __future__ import annotations

import numpy as np

from colab_utils.geometry.camera import Camera

MAX_DEPTH_M = 200.0
"""Depth used where a ray meets the plane farther away, or never (above the horizon)."""


def pixel_to_ray_matrix(camera: Camera) -> np.ndarray:
    """M = R^T K^-1: the world direction of pixel (u, v) is M @ (u, v, 1) (lens distortion ignored)."""
    return camera.rotation.T @ np.linalg.inv(camera.K)


def pixel_rays(camera: Camera, uv: np.ndarray) -> np.ndarray:
    """Unit world directions (N, 3) of the rays through pixels ``uv`` (N, 2)."""
    uv = np.asarray(uv, dtype=float)
    homogeneous = np.column_stack([uv, np.ones(len(uv))])
    directions = homogeneous @ pixel_to_ray_matrix(camera).T
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def plane_depth(
    origins: np.ndarray, directions: np.ndarray, plane_z: float, max_depth: float = MAX_DEPTH_M
) -> np.ndarray:
    """Distance along each unit ray to the plane z = ``plane_z``, capped at ``max_depth``.

    Rays that never reach the plane (pointing away from it) get ``max_depth``.
    """
    origins, directions = np.atleast_2d(origins), np.atleast_2d(directions)
    gap = plane_z - origins[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = gap / directions[:, 2]
    return np.where(np.isfinite(depth) & (depth > 0), np.minimum(depth, max_depth), max_depth)
