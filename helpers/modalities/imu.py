"""A phone in a pocket: a simulated inertial measurement unit (IMU) on someone who stands, then walks.

An IMU measures specific force (an accelerometer, m/s^2) and angular rate (a gyroscope, rad/s)
along three axes; it does not measure inertia itself, nor position.

Taught in 01_modalities.
"""

from __future__ import annotations

import math

import torch

GRAVITY = 9.80665  # standard gravity, m/s^2


def imu_trace(
    *,
    seconds: float = 6.0,
    rate_hz: float = 100.0,
    rest_s: float = 1.0,
    step_hz: float = 1.8,
    accel_noise_std: float = 0.05,
    gyro_noise_std: float = 0.01,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A phone held upright by someone who stands still for `rest_s`, then walks.

    Returns time (samples,) in s, accelerometer (samples, 3) in m/s^2 and gyroscope (samples, 3)
    in rad/s, axes x forward, y left, z up. At rest the accelerometer reads +g on z: it measures
    specific force (everything but gravity's free fall), so standing still it feels the floor
    pushing up. Walking adds a vertical bounce at `step_hz`, a forward surge, and a sideways sway
    and body rotation at half that rate (one stride is two steps).
    Taught in 01_modalities.
    """
    if seconds <= rest_s or rate_hz <= 4 * step_hz:
        raise ValueError(
            f"Use seconds > rest_s and rate_hz > 4 * step_hz, got seconds={seconds}, "
            f"rest_s={rest_s}, rate_hz={rate_hz}, step_hz={step_hz}."
        )
    count = int(round(seconds * rate_hz))
    time_s = torch.arange(count, dtype=torch.float64) / rate_hz  # (samples,)
    walking = (time_s - rest_s).clamp_min(0)
    onset = (walking / 0.5).clamp(max=1.0)  # ramps from still to full stride within 0.5 s
    step = 2 * math.pi * step_hz * walking
    stride = step / 2
    accelerometer = torch.stack(
        [
            onset * 1.2 * torch.sin(step + 0.6),  # forward surge
            onset * 0.6 * torch.sin(stride),  # sideways sway
            GRAVITY + onset * 2.5 * torch.sin(step),  # gravity plus the vertical bounce
        ],
        dim=1,
    )  # (samples, 3)
    gyroscope = torch.stack(
        [
            onset * 0.25 * torch.sin(stride + 0.3),  # roll
            onset * 0.15 * torch.sin(step),  # pitch
            onset * 0.35 * torch.sin(stride),  # yaw
        ],
        dim=1,
    )  # (samples, 3)
    if accel_noise_std > 0 or gyro_noise_std > 0:
        noise = torch.randn(count, 6, generator=generator, dtype=torch.float64)
        accelerometer = accelerometer + accel_noise_std * noise[:, :3]
        gyroscope = gyroscope + gyro_noise_std * noise[:, 3:]
    return time_s.to(torch.float32), accelerometer.to(torch.float32), gyroscope.to(torch.float32)
