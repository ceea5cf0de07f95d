"""A broadcast camera in SoccerNet's convention, and its JSON form.

Orientation O = Rz(pan) . Rx(tilt) . Rz(roll); the world-to-camera rotation is R = O^T; a
world point X lands at K . R . (X - position) divided by its depth, then distorted with
OpenCV's rational + tangential + thin-prism model. SoccerNet's evaluator assumes the
principal point is the image centre, so cameras built here keep it there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


@dataclass
class Camera:
    """Pan/tilt/roll in degrees, position in metres (z down), focal lengths in pixels."""

    pan: float
    tilt: float
    roll: float
    position: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    radial: np.ndarray = field(default_factory=lambda: np.zeros(6))
    tangential: np.ndarray = field(default_factory=lambda: np.zeros(2))
    thin_prism: np.ndarray = field(default_factory=lambda: np.zeros(4))

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=float)
        self.radial = np.asarray(self.radial, dtype=float)
        self.tangential = np.asarray(self.tangential, dtype=float)
        self.thin_prism = np.asarray(self.thin_prism, dtype=float)

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) the evaluator assumes: twice the principal point."""
        return round(2 * self.cx), round(2 * self.cy)

    @property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation R."""
        orientation = _rz(np.radians(self.pan)) @ _rx(np.radians(self.tilt)) @ _rz(np.radians(self.roll))
        return orientation.T

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.radial) or np.any(self.tangential) or np.any(self.thin_prism))

    def to_camera_frame(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=float) - self.position) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and depth (N,) of world points (N, 3).

        Points with depth <= 0 are behind the camera: their pixels are NaN.
        """
        cam = self.to_camera_frame(points)
        depth = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = cam[:, :2] / depth[:, None]
        xy[depth <= 0] = np.nan
        if self.has_distortion:
            xy = self._distort(xy)
        uv = np.stack([self.fx * xy[:, 0] + self.cx, self.fy * xy[:, 1] + self.cy], axis=1)
        return uv, depth

    def _distort(self, xy: np.ndarray) -> np.ndarray:
        k1, k2, k3, k4, k5, k6 = self.radial
        p1, p2 = self.tangential
        s1, s2, s3, s4 = self.thin_prism
        x, y = xy[:, 0], xy[:, 1]
        r2 = x * x + y * y
        radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) + s1 * r2 + s2 * r2**2
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y + s3 * r2 + s4 * r2**2
        return np.stack([xd, yd], axis=1)

    def ground_homography(self) -> np.ndarray:
        """3x3 homography from ground-plane (x, y) metres to pixels (distortion ignored)."""
        r = self.rotation
        t = -r @ self.position
        return self.K @ np.column_stack([r[:, 0], r[:, 1], t])

    @classmethod
    def from_rotation(
        cls, rotation: np.ndarray, position: np.ndarray, fx: float, fy: float, cx: float, cy: float
    ) -> Camera:
        """Build from a world-to-camera rotation matrix (e.g. OpenCV's Rodrigues output)."""
        o = np.asarray(rotation).T
        tilt = np.degrees(np.arccos(np.clip(o[2, 2], -1.0, 1.0)))
        pan = np.degrees(np.arctan2(o[0, 2], -o[1, 2]))
        roll = np.degrees(np.arctan2(o[2, 0], o[2, 1]))
        return cls(pan=pan, tilt=tilt, roll=roll, position=position, fx=fx, fy=fy, cx=cx, cy=cy)

    def to_json(self) -> dict:
        """The ``camera_<frame>.json`` dictionary of SoccerNet's submission format."""
        return {
            "pan_degrees": float(self.pan),
            "tilt_degrees": float(self.tilt),
            "roll_degrees": float(self.roll),
            "position_meters": [float(v) for v in self.position],
            "x_focal_length": float(self.fx),
            "y_focal_length": float(self.fy),
            "principal_point": [float(self.cx), float(self.cy)],
            "radial_distortion": [float(v) for v in self.radial],
            "tangential_distortion": [float(v) for v in self.tangential],
            "thin_prism_distortion": [float(v) for v in self.thin_prism],
        }

    @classmethod
    def from_json(cls, data: dict) -> Camera:
        return cls(
            pan=data["pan_degrees"],
            tilt=data["tilt_degrees"],
            roll=data["roll_degrees"],
            position=data["position_meters"],
            fx=data["x_focal_length"],
            fy=data["y_focal_length"],
            cx=data["principal_point"][0],
            cy=data["principal_point"][1],
            radial=data.get("radial_distortion", np.zeros(6)),
            tangential=data.get("tangential_distortion", np.zeros(2)),
            thin_prism=data.get("thin_prism_distortion", np.zeros(4)),
        )
