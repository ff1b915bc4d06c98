"""Scales and sizes as people write them, read by the one parser the agent uses."""

from __future__ import annotations

import pytest

from zoomqa.agent.understand.sizes import (
    all_scales,
    find_long_side,
    find_present_size,
    find_scale,
    find_size,
    normalise_numbers,
    parse_scale,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("upscale it 3x", 3.0),
        ("make it 4X bigger", 4.0),
        ("2.5 x please", 2.5),
        ("x2.5", 2.5),
        ("zoom ×4", 4.0),
        ("zoom x 3", 3.0),
        ("and at 8x?", 8.0),
        ("what about 12×?", 12.0),
        ("the LIIF-x2 model", 2.0),
        ("10 times bigger", 10.0),
        ("ten times as large", 10.0),
        ("threefold", 3.0),
        ("a 3-fold enlargement", 3.0),
        ("twice as big", 2.0),
        ("double the size", 2.0),
        ("quadruple it", 4.0),
        ("scale of 4", 4.0),
        ("scale factor 2.5", 2.5),
        ("by a factor of 6", 6.0),
        ("by 300%", 3.0),
        ("scale it up 350%", 3.5),
        ("enlarge to 250 %", 2.5),
        ("upscale mountain.png 300 %", 3.0),  # a bare share above 100%
        ("upscale it 1000%", 10.0),
        ("make it 50% bigger", 1.5),  # the picture plus half of it
        ("20 % larger please", 1.2),
        ("enlarge by 4", 4.0),
        ("upscale it by three", 3.0),
        ("add 50% to its size", 1.5),
        ("two and a half times bigger", 2.5),
        ("one and a half times", 1.5),
        ("three and a quarter times its size", 3.25),
        ("two and three quarters times", 2.75),
        ("how does upscaling 3x work?", 3.0),
        # no enlargement, but written as a factor: read, for the upscaler to refuse
        ("upscale it 0x", 0.0),
        ("at 0.5x", 0.5),
        ("1x please", 1.0),
    ],
)
def test_scales(text: str, scale: float) -> None:
    assert parse_scale(text) == scale


@pytest.mark.parametrize(
    "text",
    [
        "1920x1080",
        "a 3x3 convolution",
        "1920 by 1080",
        "resize by 1080",
        "xray of my cat",
        "max 2.5x3.5 cm",
        "I am 100% sure",
        "it is 250% done",
        "export it with 120% contrast",
        "",
    ],
)
def test_not_scales(text: str) -> None:
    assert parse_scale(text) is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1920x1080", (1920, 1080)),
        ("to 1920 × 1080 please", (1920, 1080)),
        ("1920 by 1080 pixels", (1920, 1080)),
        ("from 640x480 to 1920x1080", (1920, 1080)),
        ("to 1280x720 from 640x360", (1280, 720)),
        ("to 1920 wide", (1920, None)),
        ("1920px wide", (1920, None)),
        ("a 1920-pixel-wide print", (1920, None)),
        ("width 800", (800, None)),
        ("800 pixels in width", (800, None)),
        ("1080 px tall", (None, 1080)),
        ("600 pixels high", (None, 600)),
        ("height: 600", (None, 600)),
        ("in 1080p", (None, 1080)),
        ("1920 wide and 1080 tall", (1920, 1080)),
        ("make it 4K", (3840, None)),
        ("an 8k print", (7680, None)),
        ("a full HD version", (None, 1080)),
    ],
)
def test_sizes(text: str, size: tuple[int | None, int | None]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text",
    [
        "3x upscale",
        "a 3x3 kernel",
        "twice as big",
        "1080px",
        "photo.png",
        "",
        "theres 8x8 blocks and ringing",  # JPEG's blocks, not the size wanted
        "8x8-pixel blocks",
        "cut into 48x48 patches for training",
        "attention inside 16x16 windows",
        "printed at 10x15 cm it looked awful",  # a print's size, not pixels
        'an 8x10" frame',
        "8x10 in prints",
    ],
)
def test_not_sizes(text: str) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("so the long side is 3000 pixels", 3000),
        ("longest edge of 2000 px please", 2000),
        ("the longer side to 1500px", 1500),
        ("1500 on the long edge", 1500),
        ("2400 px along the longest side", 2400),
        ("make it 1200px", 1200),
        ("scale up 350%", None),
        ("make it 1200px wide", None),  # a width, not the longer side
        ("1920 px by 1080", None),
        ("my photo is 800 px", None),  # the picture as it is
        ("a 300 px image", None),
        ("long side only", None),
    ],
)
def test_the_longer_side_as_people_give_it(text: str, side: int | None) -> None:
    found = find_long_side(text)
    assert (found[0] if found else None) == side


def test_find_scale_says_where_the_scale_is_written() -> None:
    text = "I blew up an old photo 10x and it stayed crisp"
    value, (start, end) = find_scale(text)
    assert value == 10.0 and text[start:end] == "10x"
    assert find_scale("a 3x3 kernel") is None


def test_the_size_wanted_not_the_size_it_comes_from() -> None:
    assert parse_size("I need an exact 1000x750 picture from a small 320x240 one") == (1000, 750)
    assert parse_size("make 1000x750 from a tiny 320x240 thumbnail") == (1000, 750)
    assert parse_size("make my wallpaper 4K from 1080p") == (3840, None)
    assert parse_size("upscale from 720p to 1080p") == (None, 1080)
    assert parse_size("a frame from my 4K camera") is None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("want to make our old 480p camcorder videos look ok on the 4k tv", (3840, None)),
        ("upscale 1080p to 4k", (3840, None)),
        ("downscale 4k footage to 1080p", (None, 1080)),
    ],
)
def test_two_resolution_names_are_two_sizes_and_the_later_is_wanted(
    text: str, size: tuple[int | None, int | None]
) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "scale", "size"),
    [
        ("make it go from 1x to 6x", 6.0, None),  # where it starts is not the factor
        ("my photo is 320x240, make it 4 times bigger", 4.0, None),  # the present size, then the factor
        ("upscale my 320x240 photo 3x", 3.0, None),
        ("the plate is 12 pixels wide, enlarge it 8x", 8.0, None),
        ("it's only 640x480 now", None, None),
        ("upscale it so it is 1000 pixels across", None, (1000, None)),  # "so it is": the size wanted
        ("blow it up until it's 1920x1080", None, (1920, 1080)),
    ],
)
def test_the_picture_as_it_is_is_not_what_is_wanted(
    text: str, scale: float | None, size: tuple[int | None, int | None] | None
) -> None:
    assert parse_size(text) == size
    if size is None:
        assert parse_scale(text) == scale


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("to 1 920 × 1 080 px", "to 1920 × 1080 px"),
        ("1,920 wide", "1920 wide"),
        ("1\u202f920 wide", "1920 wide"),  # a narrow no-break space
        ("enlarge to 300 percent", "enlarge to 300%"),
        ("250 per cent of it", "250% of it"),
        ("x2, 100 wide", "x2, 100 wide"),  # a comma and a space: two numbers
        ("version 1.2 000", "version 1.2 000"),
    ],
)
def test_numbers_written_in_groups_or_with_words_are_read_as_one(text: str, normal: str) -> None:
    assert normalise_numbers(text) == normal


def test_all_scales_in_the_order_written() -> None:
    text = "make it 3 times bigger (it was 2x upscaled already)"
    assert [value for value, _ in all_scales(text)] == [3.0, 2.0]
    assert find_scale(text) is not None and find_scale(text)[0] == 2.0  # the first pattern's


def test_a_side_given_as_a_setting_is_the_wish_a_side_described_is_not() -> None:
    assert find_size("height: 1200px").stated
    assert find_size("avatar.png, width 800").stated
    assert find_size("its height is 1200px") is None  # the present size


def test_a_side_stated_as_the_wish_wins_over_a_pair_that_describes_something_else() -> None:
    text = "the projector runs at 1920x1200. Could you upscale the image to a width of 1600 pixels?"
    assert parse_size(text) == (1600, None)
    assert parse_size("enlarge it to 1920x1080 at 300 dpi") == (1920, 1080)


def test_the_size_a_picture_has_now() -> None:
    assert find_present_size("the textures are 64x64 and i want 512x512") == (64, 64)
    assert find_present_size("make my 640x480 photo 1280x960") == (640, 480)
    assert find_present_size("make it 1280x960") is None
