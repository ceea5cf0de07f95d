"""A broadcast camera from detected pitch keypoints (focal length and pose, no distortion).

The keypoint model gives pixels of known pitch points; SoccerNet wants a camera. We fit
one the way Sportlight did: ``cv2.calibrateCamera`` with the principal point fixed at the
image centre, square pixels and no distortion, using the ground plane and, when a goal
mouth is seen well enough, the goal plane (x = +-52.5) as extra views that pin down the
focal length; then ``cv2.solvePnP`` refines the pose on all points together. The focal
length recovered from the ground homography seeds the optimiser (a small grid of focal
lengths when that fails), and the homography camera itself is the fallback. Cameras that
cannot be real (below the ground, keypoints behind them, absurd field of view) are
rejected, and keypoints that disagree badly with the fitted camera are dropped one by one.
"""

from __future__ import annotations

import cv2
import numpy as np

from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import ON_GROUND_57, WORLD_57

MIN_PLANE_POINTS = 6
MIN_FOV_DEG, MAX_FOV_DEG = 1.0, 150.0
FALLBACK_FOVS_DEG = (10.0, 20.0, 35.0, 50.0, 70.0)
GOAL_PLANES = tuple(np.flatnonzero(np.isclose(WORLD_57[:, 0], side * P.HALF_L)) for side in (-1.0, 1.0))
"""Keypoints in the planes of the two goal mouths: the crossbar corners and the goal line."""

_FIXED_INTRINSICS = (
    cv2.CALIB_USE_INTRINSIC_GUESS
    | cv2.CALIB_FIX_PRINCIPAL_POINT
    | cv2.CALIB_FIX_ASPECT_RATIO
    | cv2.CALIB_ZERO_TANGENT_DIST
    | cv2.CALIB_FIX_K1
    | cv2.CALIB_FIX_K2
    | cv2.CALIB_FIX_K3
    | cv2.CALIB_FIX_K4
    | cv2.CALIB_FIX_K5
    | cv2.CALIB_FIX_K6
    | cv2.CALIB_FIX_S1_S2_S3_S4
    | cv2.CALIB_FIX_TAUX_TAUY
)


def focal_from_homography(H: np.ndarray, cx: float, cy: float) -> float | None:
    """Focal length (pixels) of a ground homography, given the principal point and square pixels.

    The first two columns of K^-1 H are scaled rotation columns: orthogonal and of equal
    length. Each condition is linear in 1/f^2; we solve both in the least-squares sense.
    """
    A = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]]) @ np.asarray(H, float)
    A = A / np.linalg.norm(A)
    (a1, b1, c1), (a2, b2, c2) = A[:, 0], A[:, 1]
    coefficients = np.array([a1 * a2 + b1 * b2, a1**2 + b1**2 - a2**2 - b2**2])
    constants = np.array([c1 * c2, c1**2 - c2**2])
    denominator = coefficients @ coefficients
    if denominator <= 0:
        return None
    inverse_f2 = -(coefficients @ constants) / denominator
    if not np.isfinite(inverse_f2) or inverse_f2 <= 0:
        return None
    return float(1.0 / np.sqrt(inverse_f2))


def _plausible_focal(focal: float, width: int) -> bool:
    fov = 2 * np.degrees(np.arctan(width / 2 / focal)) if focal > 0 else 0.0
    return MIN_FOV_DEG <= fov <= MAX_FOV_DEG


def camera_from_homography(H: np.ndarray, width: int = 960, height: int = 540) -> Camera | None:
    """The camera above the pitch whose ground plane maps to pixels by ``H`` (x, y metres -> pixels).

    None when ``H`` has no consistent focal length with the principal point at the centre.
    """
    cx, cy = width / 2, height / 2
    focal = focal_from_homography(H, cx, cy)
    if focal is None or not _plausible_focal(focal, width):
        return None
    K = np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])
    B = np.linalg.solve(K, np.asarray(H, float))
    scale = 1.0 / np.sqrt(np.linalg.norm(B[:, 0]) * np.linalg.norm(B[:, 1]))
    for sign in (1.0, -1.0):
        r1, r2, t = sign * scale * B.T
        u, _, vt = np.linalg.svd(np.column_stack([r1, r2, np.cross(r1, r2)]))
        rotation = u @ vt
        position = -rotation.T @ t
        if position[2] < 0:  # z points down: the camera is above the ground
            return Camera.from_rotation(rotation, position, focal, focal, cx, cy)
    return None


def _ground_homography(world: np.ndarray, pixels: np.ndarray) -> np.ndarray | None:
    if len(world) < 4:
        return None
    H, _ = cv2.findHomography(world[:, :2], pixels, 0)
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12 * np.abs(H).max() ** 3:
        return None
    return H


def _views(indices: np.ndarray) -> list[np.ndarray]:
    """Groups of keypoints that calibrateCamera treats as separate planar views."""
    ground = indices[ON_GROUND_57[indices]]
    views = [ground] if len(ground) >= 4 else []
    for plane in GOAL_PLANES:
        seen = np.intersect1d(indices, plane)
        if len(seen) >= MIN_PLANE_POINTS and (~ON_GROUND_57[seen]).sum() >= 2:
            views.append(seen)
    return views


def _errors(camera: Camera, indices: np.ndarray, xy: np.ndarray) -> np.ndarray:
    uv, depth = camera.project(WORLD_57[indices])
    error = np.linalg.norm(uv - xy[indices], axis=1)
    return np.where(depth > 0, error, np.inf)


def _plausible(camera: Camera, indices: np.ndarray, width: int) -> bool:
    """Above the ground, every used keypoint in front, a field of view a broadcast lens can have."""
    if camera.position[2] >= 0 or not _plausible_focal(camera.fx, width):
        return False
    _, depth = camera.project(WORLD_57[indices])
    return bool(np.all(depth > 0))


def _refine_pose(camera: Camera, indices: np.ndarray, xy: np.ndarray) -> Camera | None:
    """solvePnP (iterative, from the current pose) on all keypoints with the focal length kept."""
    rotation = camera.rotation
    rvec, _ = cv2.Rodrigues(rotation)
    tvec = -rotation @ camera.position
    ok, rvec, tvec = cv2.solvePnP(
        WORLD_57[indices], xy[indices], camera.K, None, rvec, tvec.reshape(3, 1), True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    position = -rotation.T @ tvec.ravel()
    return Camera.from_rotation(rotation, position, camera.fx, camera.fy, camera.cx, camera.cy)


def _calibrated(
    views: list[np.ndarray], indices: np.ndarray, xy: np.ndarray, focal: float, width: int, height: int
) -> Camera | None:
    """calibrateCamera over the planar views from one focal guess, then the pose refined on all points."""
    K = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    try:
        _, K, _, rvecs, tvecs = cv2.calibrateCamera(
            [WORLD_57[v].astype(np.float32) for v in views],
            [xy[v].astype(np.float32) for v in views],
            (width, height),
            K,
            np.zeros(5),
            flags=_FIXED_INTRINSICS,
        )
    except cv2.error:
        return None
    rotation, _ = cv2.Rodrigues(rvecs[0])
    position = -rotation.T @ tvecs[0].ravel()
    camera = Camera.from_rotation(rotation, position, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    return _refine_pose(camera, indices, xy)


def _fit(indices: np.ndarray, xy: np.ndarray, width: int, height: int) -> Camera | None:
    """The plausible candidate with the smallest reprojection error on ``indices``."""
    views = _views(indices)
    ground = indices[ON_GROUND_57[indices]]
    H = _ground_homography(WORLD_57[ground], xy[ground])
    candidates = []
    if H is not None:
        homography_camera = camera_from_homography(H, width, height)
        if homography_camera is not None:
            candidates.append(_refine_pose(homography_camera, indices, xy))
            if views:
                candidates.append(_calibrated(views, indices, xy, homography_camera.fx, width, height))
    if views and not any(c is not None and _plausible(c, indices, width) for c in candidates):
        for fov in FALLBACK_FOVS_DEG:
            focal = width / 2 / np.tan(np.radians(fov) / 2)
            candidates.append(_calibrated(views, indices, xy, focal, width, height))
    scored = [
        (float(np.sqrt(np.mean(_errors(c, indices, xy) ** 2))), i, c)
        for i, c in enumerate(candidates)
        if c is not None and _plausible(c, indices, width)
    ]
    return min(scored)[2] if scored else None


def camera_from_keypoints(
    xy: np.ndarray,
    confidence: np.ndarray | None = None,
    width: int = 960,
    height: int = 540,
    min_points: int = 4,
    min_confidence: float = 0.5,
    outlier_px: float = 10.0,
    max_outliers: int = 3,
) -> Camera | None:
    """The camera that best explains the 57 keypoints ``xy`` (pixels; NaN = not detected).

    Keypoints with ``confidence`` below ``min_confidence`` count as not detected. After a
    fit, the keypoint worst explained is dropped and the camera fitted again while it is
    more than ``outlier_px`` off (at most ``max_outliers`` times, never below
    ``min_points``). None when fewer than ``min_points`` keypoints (at least four on the
    ground, not all on one line) are left or no plausible camera fits them.
    """
    xy = np.asarray(xy, dtype=float).reshape(len(WORLD_57), 2)
    usable = np.all(np.isfinite(xy), axis=1)
    if confidence is not None:
        usable &= np.asarray(confidence, dtype=float) >= min_confidence
    indices = np.flatnonzero(usable)
    if len(indices) < max(min_points, 4):
        return None
    camera = _fit(indices, xy, width, height)
    for _ in range(max_outliers):
        if camera is None or len(indices) <= max(min_points, 4):
            break
        errors = _errors(camera, indices, xy)
        if errors.max() <= outlier_px:
            break
        remaining = np.delete(indices, errors.argmax())
        refitted = _fit(remaining, xy, width, height)
        if refitted is None:
            break
        camera, indices = refitted, remaining
    return camera
