"""Pictures that are not photographs: a video clip, and depth and thermal maps of a small scene.

Video is a real MNIST digit sliding across a wider frame. Depth and thermal come from ray-casting
one scene (a floor, a back wall and a warm ball) seen by one camera: the same pixels, two
different measurements of the world.

Taught in 01_modalities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def moving_digit_clip(image: torch.Tensor, *, frames: int = 8, width: int = 56) -> torch.Tensor:
    """A clip of `image` (28, 28) uint8 sliding left to right at a steady speed.

    Returns (frames, 28, width) uint8; the digit is never cropped, so each frame holds the same ink.
    Taught in 01_modalities.
    """
    if image.shape != (28, 28) or image.dtype != torch.uint8:
        raise ValueError(
            f"moving_digit_clip expects one MNIST digit shaped (28, 28) uint8, got "
            f"{tuple(image.shape)} {image.dtype}."
        )
    if frames < 2 or width < 28:
        raise ValueError(f"Use frames >= 2 and width >= 28, got frames={frames}, width={width}.")
    clip = torch.zeros(frames, 28, width, dtype=torch.uint8)  # (frames, 28, width)
    for t in range(frames):
        left = round(t * (width - 28) / (frames - 1))
        clip[t, :, left : left + 28] = image
    return clip


@dataclass(frozen=True)
class Scene:
    """The world a depth and a thermal camera look at: where things are (m), how warm (°C).

    Taught in 01_modalities.
    """

    camera_height_m: float = 1.2
    tilt_deg: float = 12.0  # the camera looks down by this much
    field_of_view_deg: float = 60.0  # across the picture's width
    ball_centre_m: tuple[float, float, float] = (0.3, 0.45, 3.0)  # right, up, ahead
    ball_radius_m: float = 0.45
    wall_distance_m: float = 6.0
    floor_c: float = 18.0
    wall_c: float = 21.0
    ball_c: float = 36.0  # a warm body


def _camera_rays(scene: Scene, height: int, width: int) -> torch.Tensor:
    """One ray per pixel (height, width, 3), scaled so a step t along it moves t m along the axis."""
    focal = (width / 2) / math.tan(math.radians(scene.field_of_view_deg) / 2)  # pixels
    tilt = math.radians(scene.tilt_deg)
    right = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    up = torch.tensor([0.0, math.cos(tilt), math.sin(tilt)], dtype=torch.float64)
    forward = torch.tensor([0.0, -math.sin(tilt), math.cos(tilt)], dtype=torch.float64)
    rows = (torch.arange(height, dtype=torch.float64) + 0.5 - height / 2) / focal
    cols = (torch.arange(width, dtype=torch.float64) + 0.5 - width / 2) / focal
    v, u = torch.meshgrid(-rows, cols, indexing="ij")  # (height, width) each
    return u[..., None] * right + v[..., None] * up + forward  # (height, width, 3)


def depth_and_thermal_scene(
    scene: Scene = Scene(),
    *,
    height: int = 48,
    width: int = 64,
    noise_std_c: float = 0.05,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray-cast a floor, a back wall and a warm ball seen by one camera tilted down.

    Returns depth (height, width) float32 in metres (distance along the camera's axis, as depth
    cameras report it) and temperature (height, width) float32 in degrees Celsius, with sensor
    noise of `noise_std_c`. The ball looks cooler towards its rim, where it is seen at a grazing
    angle (its emissivity falls there).
    Taught in 01_modalities.
    """
    if height < 2 or width < 2 or scene.camera_height_m <= 0 or scene.ball_radius_m <= 0:
        raise ValueError("Use a picture of at least 2 x 2 pixels, a positive height and radius.")
    direction = _camera_rays(scene, height, width)  # (height, width, 3)
    camera = torch.tensor([0.0, scene.camera_height_m, 0.0], dtype=torch.float64)
    far = torch.full((height, width), math.inf, dtype=torch.float64)
    floor_t = torch.where(direction[..., 1] < 0, -scene.camera_height_m / direction[..., 1], far)
    wall_t = torch.where(direction[..., 2] > 0, scene.wall_distance_m / direction[..., 2], far)
    centre = torch.tensor(scene.ball_centre_m, dtype=torch.float64)
    offset = camera - centre
    a = (direction**2).sum(-1)
    b = 2 * (direction * offset).sum(-1)
    c = (offset**2).sum() - scene.ball_radius_m**2
    discriminant = b**2 - 4 * a * c
    ball_t = (-b - discriminant.clamp_min(0).sqrt()) / (2 * a)
    ball_t = torch.where((discriminant >= 0) & (ball_t > 0), ball_t, far)

    depth = torch.minimum(torch.minimum(floor_t, wall_t), ball_t)  # (height, width)
    if not torch.isfinite(depth).all():
        raise ValueError("Some rays hit nothing; tilt the camera less or narrow the field of view.")
    temperature = torch.where(floor_t <= wall_t, scene.floor_c, scene.wall_c) * torch.ones_like(
        depth
    )
    hit = camera + depth[..., None] * direction  # (height, width, 3)
    normal = (hit - centre) / scene.ball_radius_m
    facing = -(normal * direction).sum(-1) / direction.norm(dim=-1)  # cosine to the viewer
    ball_temperature = scene.wall_c + (scene.ball_c - scene.wall_c) * facing.clamp(0, 1) ** 0.25
    temperature = torch.where(ball_t <= depth, ball_temperature, temperature)
    if noise_std_c > 0:
        temperature = temperature + noise_std_c * torch.randn(
            height, width, generator=generator, dtype=torch.float64
        )
    return depth.to(torch.float32), temperature.to(torch.float32)
