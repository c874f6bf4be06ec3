"""A drawing becomes a digit the way MNIST made its digits: fitted into 20 x 20, centred by mass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import data, drawing

SEVEN = [[(60, 50), (220, 50), (190, 110), (130, 240)]]  # a top bar, then a long diagonal
VERTICAL = [[(140, 30), (140, 250)]]  # one straight down stroke


def ink_box(digit: torch.Tensor) -> tuple[int, int]:
    """Height and width of the part of a digit that holds ink."""
    rows, columns = np.nonzero(digit.numpy())
    return int(rows.max() - rows.min() + 1), int(columns.max() - columns.min() + 1)


def test_render_strokes_paints_ink_where_the_pen_went():
    ink = drawing.render_strokes([[(10, 20), (50, 20)]], canvas_size=(100, 60), pen_width=6)
    assert ink.shape == (60, 100) and ink.dtype == np.uint8
    assert set(np.unique(ink)) == {0, 255}  # black and white, like NIST's scans
    assert ink[20, 30] == 255 and ink[40, 30] == 0 and ink[20, 80] == 0
    rows = np.nonzero(ink[:, 30])[0]
    assert 5 <= len(rows) <= 7  # as thick as the pen
    dot = drawing.render_strokes([[(50, 30)]], canvas_size=(100, 60), pen_width=10)
    assert dot[30, 50] == 255 and 60 <= (dot > 0).sum() <= 100  # a round dot of diameter 10


def test_a_digit_is_28_by_28_uint8_with_its_longer_side_filling_the_20_pixel_box():
    digit = drawing.drawing_to_digit(SEVEN)
    assert digit.shape == (28, 28) and digit.dtype == torch.uint8
    height, width = ink_box(digit)
    assert max(height, width) == drawing.BOX
    assert digit.max() == 255  # the pen is wide enough to cover whole pixels after scaling


@pytest.mark.parametrize("where", [(0, 0), (-40, -30), (70, 90)])
def test_centre_of_mass_lands_on_the_centre_wherever_the_digit_was_drawn(where):
    shifted = [[(x + where[0], y + where[1]) for x, y in stroke] for stroke in SEVEN]
    digit = drawing.drawing_to_digit(shifted, canvas_size=(400, 400))
    row, column = drawing.centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5  # whole-pixel shifts: half a pixel
    # Moving a drawing on the canvas changes nothing at all.
    assert torch.equal(digit, drawing.drawing_to_digit(SEVEN, canvas_size=(400, 400)))


def test_mnist_itself_puts_the_centre_of_mass_at_pixel_14():
    images = data.load_digits("sample").train_images[:500].double()  # (500, 28, 28)
    masses = np.array([drawing.centre_of_mass(image) for image in images])  # (500, 2)
    assert np.allclose(masses.mean(axis=0), drawing.CENTRE, atol=0.1)
    assert (np.abs(masses - drawing.CENTRE) <= 0.75).mean() > 0.95


def test_size_does_not_matter_a_small_and_a_large_drawing_give_nearly_the_same_digit():
    small = [[(x / 2 + 40, y / 2 + 40) for x, y in stroke] for stroke in SEVEN]
    large_digit = drawing.drawing_to_digit(SEVEN, pen_width=18).float()
    small_digit = drawing.drawing_to_digit(small, pen_width=9).float()
    assert ink_box(large_digit.to(torch.uint8)) == ink_box(small_digit.to(torch.uint8))
    assert (large_digit - small_digit).abs().mean() < 10  # grey levels differ only at the edges


def test_aspect_ratio_is_kept():
    wide = [[(20, 100), (260, 100), (260, 220), (20, 220), (20, 100)]]  # a 240 x 120 frame
    height, width = ink_box(drawing.drawing_to_digit(wide, pen_width=10))
    # With the pen, the ink is 250 x 130 pixels: 20 wide, so 20 * 130 / 250 = 10.4 tall.
    assert width == 20 and abs(height - 10.4) <= 1


def test_a_thin_vertical_stroke_becomes_a_one():
    digit = drawing.drawing_to_digit(VERTICAL, pen_width=16)
    height, width = ink_box(digit)
    assert height == 20 and width <= 3  # tall and thin, like MNIST's ones
    row, column = drawing.centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5
    # Of the ten mean MNIST digits, the mean 1 is the one this image correlates with best.
    digits = data.load_digits("sample")
    means = torch.stack(
        [digits.train_images[digits.train_labels == d].double().mean(0) for d in range(10)]
    )  # (10, 28, 28)
    centred = means.flatten(1) - means.flatten(1).mean(1, keepdim=True)  # (10, 784)
    query = digit.double().flatten() - digit.double().mean()  # (784,)
    correlation = centred @ query / (centred.norm(dim=1) * query.norm())  # (10,)
    assert int(correlation.argmax()) == 1


@pytest.mark.parametrize("strokes", [[], [[]], [[], []]], ids=["no strokes", "empty", "two empty"])
def test_an_empty_canvas_raises_a_clear_message(strokes):
    with pytest.raises(ValueError, match="canvas is empty"):
        drawing.drawing_to_digit(strokes)


def test_strokes_outside_the_canvas_leave_no_ink_and_count_as_empty():
    with pytest.raises(ValueError, match="canvas is empty"):
        drawing.drawing_to_digit([[(-100, -100), (-50, -60)]], canvas_size=(100, 100), pen_width=4)
    with pytest.raises(ValueError, match="canvas is empty"):
        drawing.to_mnist(np.zeros((50, 50)))


@pytest.mark.parametrize(
    ("strokes", "options", "message"),
    [
        ([[(1, 2, 3)]], {}, "list of \\(x, y\\) points"),
        ([[(1, float("nan"))]], {}, "not a finite number"),
        ([["a", "b"]], {}, "list of \\(x, y\\) points"),
        (np.zeros((3, 2)), {}, "list of strokes"),
        (None, {}, "list of strokes"),
        ("7", {}, "list of strokes"),
        (VERTICAL, {"pen_width": 0}, "pen_width must be positive"),
        (VERTICAL, {"canvas_size": (0, 10)}, "canvas_size"),
    ],
)
def test_malformed_drawings_get_a_message_saying_what_is_expected(strokes, options, message):
    with pytest.raises(ValueError, match=message):
        drawing.drawing_to_digit(strokes, **options)


def test_to_mnist_and_centre_of_mass_refuse_what_is_not_one_image():
    with pytest.raises(ValueError, match="one ink image"):
        drawing.to_mnist(np.ones((2, 28, 28)))
    with pytest.raises(ValueError, match="no ink"):
        drawing.centre_of_mass(np.zeros((28, 28)))


def test_place_on_canvas_draws_the_digit_as_pen_ink_filling_its_box():
    digits = data.load_digits("sample")
    seven = digits.val_images[digits.val_labels == 7][0]
    canvas = drawing.place_on_canvas(seven, size=100, top=30, left=150)
    assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
    assert set(np.unique(canvas)) == {0, 255}  # black and white, like a pen's line
    rows, columns = np.nonzero(canvas)
    height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
    assert max(height, width) in (99, 100)  # the longer side fills the box (less a rim pixel)
    assert 30 <= rows.min() <= rows.max() < 130 and 150 <= columns.min() <= columns.max() < 250
    # Centred in its box: the margins on either side of the shorter side differ by a pixel or two.
    assert abs((columns.min() - 150) - (249 - columns.max())) <= 2


def test_where_a_digit_is_placed_does_not_change_what_the_network_gets():
    digit = data.load_digits("sample").val_images[3]
    placed = [
        drawing.place_on_canvas(digit, size=80, top=top, left=left)
        for top, left in [(0, 0), (150, 90)]
    ]
    assert torch.equal(drawing.to_mnist(placed[0]), drawing.to_mnist(placed[1]))


def test_a_placed_digit_comes_back_close_to_itself_through_mnists_recipe():
    images = data.load_digits("sample").val_images[:100]  # (100, 28, 28)
    correlations = []
    for image in images:
        back = drawing.to_mnist(drawing.place_on_canvas(image, size=200, top=40, left=40))
        correlations.append(np.corrcoef(back.flatten(), image.flatten())[0, 1])
    assert np.mean(correlations) > 0.9  # 0.955 measured over 200 digits and three placements


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 100, "top": 200, "left": 0}, "does not fit"),
        ({"size": 0, "top": 0, "left": 0}, "does not fit"),
        ({"size": 50, "top": -1, "left": 0}, "does not fit"),
    ],
)
def test_place_on_canvas_refuses_a_box_off_the_canvas(options, message):
    digit = data.load_digits("sample").val_images[0]
    with pytest.raises(ValueError, match=message):
        drawing.place_on_canvas(digit, **options)
    with pytest.raises(ValueError, match="one digit"):
        drawing.place_on_canvas(np.zeros((20, 20)), size=50, top=0, left=0)
    with pytest.raises(ValueError, match="no ink"):
        drawing.place_on_canvas(np.zeros((28, 28)), size=50, top=0, left=0)
