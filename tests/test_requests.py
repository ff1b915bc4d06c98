"""The offline writers' request parser and follow-up condensing: what runs the upscaler, what does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoomqa.agent.turn.enlarge_requests import (
    DEFAULT_SCALE,
    ImageRequest,
    find_image_paths,
    find_named_files,
    parse_request,
)
from zoomqa.agent.turn.history import (
    MAX_TURNS,
    Turn,
    bounded,
    condense,
    is_follow_up,
    only_an_amount,
    resolve_references,
)

QUESTION_SET = Path(__file__).parent / "questions.jsonl"

REQUESTS = [
    ("upscale cat.png 3x", ImageRequest("cat.png", scale=3.0)),
    ("Upscale cat.png by 3x please", ImageRequest("cat.png", scale=3.0)),
    ("enlarge ~/Pictures/cat.png to 1920x1080", ImageRequest("~/Pictures/cat.png", width=1920, height=1080)),
    ("make holiday.jpg 3.5 times bigger", ImageRequest("holiday.jpg", scale=3.5)),
    ("upscale this photo 4x: scan.png", ImageRequest("scan.png", scale=4.0)),
    ("zoom into moon.webp x2.5", ImageRequest("moon.webp", scale=2.5)),
    ("zoom moon.webp ×4", ImageRequest("moon.webp", scale=4.0)),
    ("blow up thumbnail.png 8x please", ImageRequest("thumbnail.png", scale=8.0)),
    ("blow it up: thumbnail.png, 6x", ImageRequest("thumbnail.png", scale=6.0)),
    ("pls make ~/Desktop/logo_small.png twice as big", ImageRequest("~/Desktop/logo_small.png", scale=2.0)),
    ("double the size of logo.png", ImageRequest("logo.png", scale=2.0)),
    ("I need drone_shot.webp at 1080 pixels tall", ImageRequest("drone_shot.webp", height=1080)),
    ("resize frame.png to 1920 wide", ImageRequest("frame.png", width=1920)),
    (
        "Can you blow up /home/ana/photos/grandpa_1962.jpg so it's 3000 pixels wide?",
        ImageRequest("/home/ana/photos/grandpa_1962.jpg", width=3000),
    ),
    (
        "enlarge ./renders/frame_0042.png by a factor of 6",
        ImageRequest("./renders/frame_0042.png", scale=6.0),
    ),
    (
        "super-resolve ~/Pictures/moon.png to 2048 x 2048 please",
        ImageRequest("~/Pictures/moon.png", width=2048, height=2048),
    ),
    ("upscale IMG_2041.JPG x2.5", ImageRequest("IMG_2041.JPG", scale=2.5)),
    ("upscale ./old/wedding.jpg to 1000x750 px", ImageRequest("./old/wedding.jpg", width=1000, height=750)),
    ("Make me a 4000 px wide version of pics/harbour.tif", ImageRequest("pics/harbour.tif", width=4000)),
    ('upscale "my holiday photo.jpg" 3x', ImageRequest("my holiday photo.jpg", scale=3.0)),
    ("enlarge `scans/page 1.png` to 300%", ImageRequest("scans/page 1.png", scale=3.0)),
    ("could you make cat.jpeg larger, 5x", ImageRequest("cat.jpeg", scale=5.0)),
    ("upscale cat.png", ImageRequest("cat.png", scale=DEFAULT_SCALE)),
    ("cat.png 4x", ImageRequest("cat.png", scale=4.0)),
    ("scan.tiff to 1080p please", ImageRequest("scan.tiff", height=1080)),
    ("upscale wallpaper.png to 4K", ImageRequest("wallpaper.png", width=3840)),
    ("upsample map.bmp threefold", ImageRequest("map.bmp", scale=3.0)),
    ("increase the resolution of old.png ten times", ImageRequest("old.png", scale=10.0)),
    ("magnify pics/2024-05-01 cat.png 2x", ImageRequest("pics/2024-05-01 cat.png", scale=2.0)),
    ("scale up photo.PNG from 640x480 to 1280x960", ImageRequest("photo.PNG", width=1280, height=960)),
    ("upscale a.png and b.png 2x", None),  # two images: checked below
]


def test_a_picture_said_to_be_compressed_or_noisy_is_marked_damaged() -> None:
    (blocky,) = parse_request("upscale whatsapp.jpg 2x, it's all blocky from compression")
    assert blocky.damaged and blocky.arguments()["damaged"] is True
    (grainy,) = parse_request("please enlarge night.png 3x, it is very noisy")
    assert not grainy.damaged  # trained on noise, but only measured on JPEG damage
    (clean,) = parse_request(
        "upscale noisy_jpeg_artifacts.png 2x"
    )  # the file's name says nothing of the picture
    assert not clean.damaged and "damaged" not in clean.arguments()


NOT_REQUESTS = [
    "how does upscaling 3x work?",
    "upscale 3x",  # no image named
    "why did my upscaled cat.png go blurry at 4x?",
    "I upscaled scan.png 4x with bicubic and it looks soft",
    "how do I upscale holiday.jpg 4x?",
    "what is the best model to enlarge cat.png?",
    "which model should I use to upscale holiday.jpg to 1920 wide?",
    "don't upscale cat.png",
    "rename cat.png to cat2.png",
    "my photo cat.png is 640x480",
    "is 8x too much for cat.png?",
    "does LIIF work on faces.png?",
    "I blew up an old photo 10x and it stayed crisp - how?",
    "compare cat.png and dog.png",
    "what does 1920x1080 mean for a print?",
    "Why do upscalers invent detail?",
    "zoomqa is great, thanks",
    "my resume.pdf is 3 pages",
]


@pytest.mark.parametrize(("message", "expected"), [r for r in REQUESTS if r[1] is not None])
def test_requests_run_the_tool_with_the_asked_size(message: str, expected: ImageRequest) -> None:
    assert parse_request(message) == [expected]


def test_one_request_per_named_image() -> None:
    assert parse_request("upscale a.png and b.png 2x") == [
        ImageRequest("a.png", scale=2.0),
        ImageRequest("b.png", scale=2.0),
    ]


@pytest.mark.parametrize("message", NOT_REQUESTS)
def test_questions_and_reports_do_not_run_the_tool(message: str) -> None:
    assert parse_request(message) == []


def test_an_attachment_is_the_image_when_the_message_names_none(tmp_path: Path) -> None:
    attached = tmp_path / "F0123_photo.jpg"
    assert parse_request("upscale this 3x", [attached]) == [ImageRequest(str(attached), scale=3.0)]
    assert parse_request("4x", [attached]) == [ImageRequest(str(attached), scale=4.0)]
    assert parse_request("what model would you use for this?", [attached]) == []


def test_arguments_follow_the_tool_schema() -> None:
    assert ImageRequest("cat.png", scale=3.0).arguments() == {"path": "cat.png", "scale": 3.0}
    assert ImageRequest("cat.png", width=800).arguments() == {"path": "cat.png", "width": 800}


def test_paths_are_found_with_their_folders() -> None:
    assert find_image_paths("see ./a/b.png, then ~/c.JPG and /x/y z.webp.") == [
        "./a/b.png",
        "~/c.JPG",
        "/x/y z.webp",
    ]
    assert find_image_paths("photo.png.txt is not an image, nor is png") == []


@pytest.mark.parametrize(
    ("message", "paths"),
    [
        # unquoted names with spaces, read back to the folder they start in
        (
            "x4 on shots/Screen Shot 2023-04-01 at 10.22.31.png",
            ["shots/Screen Shot 2023-04-01 at 10.22.31.png"],
        ),
        ("longest edge 3000 px for landscapes/lake at dusk.jpg please", ["landscapes/lake at dusk.jpg"]),
        ("enlarge ~/Desktop/old photos/grandma.jpg 2x", ["~/Desktop/old photos/grandma.jpg"]),
        ("compare a/b.png and c/d.png", ["a/b.png", "c/d.png"]),
        # ... but not over another picture, a grammar word, or "and/or"
        ("upscale pics/a.png b.png 2x", ["pics/a.png", "b.png"]),
        ("in pics/2023 the file beach.png, 3x", ["beach.png"]),
        ("upscale and/or sharpen cat.png", ["cat.png"]),
        ("upscale this photo: moon.png", ["moon.png"]),
    ],
)
def test_a_name_with_spaces_is_read_back_to_its_folder(message: str, paths: list[str]) -> None:
    assert find_image_paths(message) == paths


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("make old/scan0001.TIFF 3x, no wait, 4x", ImageRequest("old/scan0001.TIFF", scale=4.0)),
        ("upscale cat.png 2x... actually 3x", ImageRequest("cat.png", scale=3.0)),
        ("upscale cat.png 3x please, sorry for the typo earlier", ImageRequest("cat.png", scale=3.0)),
        (
            "it's tiny, like 400px across. make pic.jpg 3000 pixels wide",
            ImageRequest("pic.jpg", width=3000),
        ),
        ("upscale tv.png to 4K (3840x2160)", ImageRequest("tv.png", width=3840, height=2160)),
        (
            "Could the AI enhance shop/item.webp to 1600 px wide? It's currently 400px.",
            ImageRequest("shop/item.webp", width=1600),
        ),
    ],
)
def test_the_amount_wished_wins_over_one_taken_back_or_describing_the_picture(
    message: str, expected: ImageRequest
) -> None:
    assert parse_request(message) == [expected]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (r"upscale C:\photos\cat.png 4x", ImageRequest(r"C:\photos\cat.png", scale=4.0)),
        (
            r"upscale C:\Users\Ann Lee\Pictures\beach day.jpg 2x please",
            ImageRequest(r"C:\Users\Ann Lee\Pictures\beach day.jpg", scale=2.0),
        ),
        (
            r"enlarge D:\scans\my scan.PNG to 3000 wide and C:\x\b.png",
            None,  # two Windows paths, each ending at its own extension: checked below
        ),
        (r"upscale pics\old\cat.png 3x", ImageRequest(r"pics\old\cat.png", scale=3.0)),
    ],
)
def test_windows_paths_are_found_whole_with_their_spaces(message: str, expected: ImageRequest | None) -> None:
    if expected is None:
        assert find_image_paths(message) == [r"D:\scans\my scan.PNG", r"C:\x\b.png"]
    else:
        assert parse_request(message) == [expected]


@pytest.mark.parametrize(
    ("message", "path"),
    [
        ("here's IMG_2031.HEIC, make it 3x bigger please", "IMG_2031.HEIC"),
        ("can you upscale render_0001.exr to 4k", "render_0001.exr"),
        ("enlarge sprites.tga 2x", "sprites.tga"),
        ("please upscale DSC_0042.NEF x2", "DSC_0042.NEF"),
    ],
)
def test_images_in_formats_the_upscaler_cannot_read_are_requests_it_refuses(message: str, path: str) -> None:
    assert [r.path for r in parse_request(message)] == [path]


@pytest.mark.parametrize(
    "message",
    [
        "thanks! the 4x one of cat.png looks great",
        "perfect, the 3x upscale of dog.jpg is exactly what I needed",
        "the 1920x1080 version of wallpaper.png came out sharp, cheers",
        "wow, that 2x copy of scan.png is much cleaner",
    ],
)
def test_praise_for_a_result_named_by_its_amount_runs_nothing(message: str) -> None:
    assert parse_request(message) == []


def test_a_result_named_by_its_amount_is_asked_for_with_a_request_word() -> None:
    assert parse_request("can I get the 4x version of cat.png?") == [ImageRequest("cat.png", scale=4.0)]
    assert parse_request("give me the 1920x1080 one of a.png") == [
        ImageRequest("a.png", width=1920, height=1080)
    ]


@pytest.mark.parametrize(
    ("earlier", "message", "expected"),
    [
        (
            ["I need beach.jpg at 3840x2160 for a poster"],
            "ok, enlarge it to that",
            ImageRequest("beach.jpg", width=3840, height=2160),
        ),
        (
            ["my banner.png must be 1500 wide for twitter"],
            "upscale banner.png to that width",
            ImageRequest("banner.png", width=1500),
        ),
        (
            ["the print shop wants 6000 pixels wide"],
            "enlarge shop.png to that",
            ImageRequest("shop.png", width=6000),
        ),
        (
            ["upscale cat.png 3x", "what is LIIF?"],
            "can you enlarge it 5x instead",
            ImageRequest("cat.png", scale=5.0),
        ),
        (
            ["upscale cat.png 3x"],
            "great. now blow it up to the same scale as before",
            ImageRequest("cat.png", scale=3.0),
        ),
        (["upscale cat.png 3x"], "now do dog.png at the same size", ImageRequest("dog.png", scale=3.0)),
    ],
)
def test_a_picture_and_a_size_referred_back_to_come_from_earlier_messages(
    earlier: list[str], message: str, expected: ImageRequest
) -> None:
    assert parse_request(resolve_references(message, turns(*earlier))) == [expected]


@pytest.mark.parametrize(
    ("earlier", "message"),
    [
        ([], "enlarge it to that"),  # nothing earlier to point to
        (["upscale cat.png 3x"], "can you explain how it works at 4x?"),
        (["upscale cat.png 3x"], "what does it do to faces?"),
        (["upscale cat.png 3x"], "apply it to that picture"),
        (["upscale cat.png 3x"], "thanks, the 3x version looks great"),
    ],
)
def test_references_without_a_request_or_an_antecedent_run_nothing(earlier: list[str], message: str) -> None:
    assert parse_request(resolve_references(message, turns(*earlier))) == []


def test_a_picture_referred_back_to_keeps_the_spaces_in_its_name() -> None:
    history = turns('upscale "my holiday photo.jpg" 3x')
    assert parse_request(resolve_references("now enlarge it 5x", history)) == [
        ImageRequest("my holiday photo.jpg", scale=5.0)
    ]


def test_a_reference_keeps_what_the_message_names_itself(tmp_path: Path) -> None:
    history = turns("upscale cat.png 3x")
    assert resolve_references("upscale dog.png to that", history) == "upscale dog.png to 3x"
    assert resolve_references("enlarge it 4x", history, attachments=True) == "enlarge it 4x"
    assert resolve_references("enlarge it to 1920 wide, not to that", history).startswith(
        "enlarge cat.png to 1920"
    )


def test_every_tool_question_of_the_question_set_parses_to_its_expected_call() -> None:
    questions = [json.loads(line) for line in QUESTION_SET.read_text().splitlines() if line.strip()]
    tool = [q for q in questions if q["expect"] == "tool"]
    assert len(tool) >= 9
    for q in tool:
        expected = ImageRequest(q["path"], scale=q.get("scale"), width=q.get("width"), height=q.get("height"))
        found = parse_request(q["question"])
        assert [ImageRequest(r.path, r.scale and float(r.scale), r.width, r.height) for r in found] == [
            ImageRequest(
                expected.path, expected.scale and float(expected.scale), expected.width, expected.height
            )
        ], q["id"]
    others = [q["id"] for q in questions if q["expect"] != "tool" and parse_request(q["question"])]
    assert others == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("upscale ../../etc/passwd 2x", ImageRequest("../../etc/passwd", scale=2.0)),
        ("enlarge notes.txt 3x", ImageRequest("notes.txt", scale=3.0)),
        ("please upscale the file report.pdf", ImageRequest("report.pdf", scale=DEFAULT_SCALE)),
        ("make notes.txt bigger", ImageRequest("notes.txt", scale=DEFAULT_SCALE)),
        ("upscale ~/secret to 1920 wide", ImageRequest("~/secret", width=1920)),
        ('enlarge "my notes.txt" 3x', ImageRequest("my notes.txt", scale=3.0)),
        ("enlarge notes.txt.", ImageRequest("notes.txt", scale=DEFAULT_SCALE)),
    ],
)
def test_other_files_named_to_be_enlarged_are_requests_the_tool_refuses(
    message: str, expected: ImageRequest
) -> None:
    assert parse_request(message) == [expected]


@pytest.mark.parametrize(
    "message",
    [
        "upscale images in node.js",  # not what the verb acts on
        "upscale with LIIF/EDSR",
        "enlarge it e.g. 2x",
        "upscale v1.2 weights",
        "upscale 2x/4x",
        "upscale https://example.com/page 2x",
        "upscale a.out 2x",
        "how do I upscale notes.txt?",  # a question about it
        "I upscaled notes.txt 2x",
        "don't upscale notes.txt",
        "my resume.pdf is 3 pages",
    ],
)
def test_other_files_in_questions_and_prose_are_not_requests(message: str) -> None:
    assert parse_request(message) == []


def test_an_image_or_an_attachment_comes_before_other_files(tmp_path: Path) -> None:
    assert find_named_files("upscale cat.png and notes.txt 2x") == []
    attached = tmp_path / "F0123_photo.jpg"
    assert parse_request("upscale notes.txt 3x", [attached]) == [ImageRequest(str(attached), scale=3.0)]


def test_an_amount_that_is_no_enlargement_reaches_the_tool_to_be_refused() -> None:
    assert parse_request("upscale cat.png 0x") == [ImageRequest("cat.png", scale=0.0)]
    assert parse_request("upscale cat.png 0.5x") == [ImageRequest("cat.png", scale=0.5)]


# --- follow-ups -------------------------------------------------------------------------

TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"


def turns(*texts: str) -> list[Turn]:
    return [Turn(role="user" if i % 2 == 0 else "assistant", text=t) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("history", "message", "condensed"),
    [
        (turns(TEN_X, "LIIF ..."), "and at 8x?", "I blew up an old photo 8x and it stayed crisp - how?"),
        (turns(TEN_X, "LIIF ..."), "what about 30x", "I blew up an old photo 30x and it stayed crisp - how?"),
        (turns(TEN_X, "LIIF ..."), "which one is faster?", f"{TEN_X} which one is faster?"),
        (turns("upscale cat.png 3x", "done"), "and at 8x?", "upscale cat.png 8x"),
        (
            turns(TEN_X, "LIIF ...", "and at 8x?", "..."),
            "and 12x?",
            "I blew up an old photo 12x and it stayed crisp - how?",
        ),
        (
            turns(TEN_X, "LIIF ..."),
            "How does ESRGAN make faces look sharper than the background?",
            "How does ESRGAN make faces look sharper than the background?",
        ),
        ((), "and at 8x?", "and at 8x?"),
    ],
)
def test_follow_ups_are_condensed_with_the_earlier_question(
    history: list[Turn], message: str, condensed: str
) -> None:
    assert condense(message, history) == condensed


def test_a_message_naming_an_image_is_never_a_follow_up() -> None:
    assert not is_follow_up("and cat.png?")
    assert not is_follow_up("enlarge notes.txt 3x")  # another file named: it stands alone
    assert is_follow_up("and with RDN?") and not is_follow_up(
        "Why do diffusion upscalers invent new detail in faces?"
    )


def test_the_longer_side_beside_another_amount() -> None:
    """The later wish wins, unless it only comments on the other one; a bare pixel count
    beside a width is that width."""
    assert parse_request("upscale cat.png 3x now 2000 on the long edge") == [
        ImageRequest("cat.png", long_side=2000)
    ]
    assert parse_request("enlarge cat.png to 1500 on the long edge, that is about 3x") == [
        ImageRequest("cat.png", long_side=1500)
    ]
    assert parse_request("upscale cat.png 3x, that should make the long side about 2000") == [
        ImageRequest("cat.png", scale=3.0)
    ]
    assert parse_request("width 1500px for cat.png please") == [ImageRequest("cat.png", width=1500)]


def test_history_is_bounded() -> None:
    long = turns(*[f"turn {i} " + "x" * 5000 for i in range(3 * MAX_TURNS)])
    kept = bounded(long)
    assert len(kept) == MAX_TURNS and kept[-1].text.startswith(f"turn {3 * MAX_TURNS - 1}")
    assert all(len(t.text) <= 1200 for t in kept)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("and at 8x?", True),
        ("now 1920 wide", True),
        ("what about 1920x1080?", True),
        ("x2.5 then", True),
        ("and 2000 on the long edge?", True),
        ("now the long side 3000", True),
        ("what about the long side?", False),
        ("which model is faster at 4x?", False),
        ("and with RDN?", False),
        ("why?", False),
    ],
)
def test_a_follow_up_that_only_changes_the_amount(message: str, expected: bool) -> None:
    assert only_an_amount(message) is expected


# Requests written blind to this parser, in many voices: factors in words and percent, exact
# sizes, a width or height alone, numbers that describe the picture rather than the wish; and
# messages that name a picture but ask for no enlargement (no path). A named resolution ("4K",
# "full HD") keeps the picture's shape: one side.
# A shrink ("reduce x.png by 50%") reaches the tool, which answers that it only enlarges.
# Messages the parser is known to misread are marked "known_miss" and must still fail, so a
# fix is noticed and the mark removed.
WRITTEN = [json.loads(line) for line in Path(__file__).with_name("tool_requests.jsonl").open()]


def _cases(written: list[dict]) -> list[object]:
    return [
        pytest.param(p, id=p["id"], marks=[pytest.mark.xfail(strict=True)] if p.get("known_miss") else [])
        for p in written
    ]


PHRASINGS = _cases([p for p in WRITTEN if p["path"] is not None])
NOT_ASKED = _cases([p for p in WRITTEN if p["path"] is None])


@pytest.mark.parametrize("written", NOT_ASKED)
def test_messages_that_name_a_picture_without_asking_run_nothing(written: dict) -> None:
    assert parse_request(written["message"]) == []


@pytest.mark.parametrize("asked", PHRASINGS)
def test_requests_phrased_in_new_ways_give_the_asked_size(asked: dict) -> None:
    (request,) = parse_request(asked["message"])
    sized = any(asked.get(side) is not None for side in ("width", "height", "long_side"))
    scale = asked["scale"] if asked["scale"] is not None or sized else DEFAULT_SCALE
    assert (request.path, request.scale, request.width, request.height, request.long_side) == (
        asked["path"],
        scale,
        asked["width"],
        asked["height"],
        asked.get("long_side"),
    )


def test_of_a_size_and_a_factor_the_stated_wish_wins_else_the_later() -> None:
    assert parse_request("enlarge cat.png to 1920x1080, that's about 3x") == [
        ImageRequest("cat.png", width=1920, height=1080)
    ]
    assert parse_request("pano.jpg came out at 4000x1000; make it twice as big") == [
        ImageRequest("pano.jpg", scale=2.0)
    ]
    assert parse_request("upscale cat.png 3x so it is 1200 wide") == [ImageRequest("cat.png", width=1200)]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("upscale beach.jpg 2x... actually never mind, leave it as is", []),
        ("Cancel the upscale of scan_007.tiff, I changed my mind.", []),
        ("never mind, make a.png 4x", [ImageRequest("a.png", scale=4.0)]),
        ("cancel that and upscale b.png 3x instead", [ImageRequest("b.png", scale=3.0)]),
        ("upscale a.png 3x, never mind the noise", [ImageRequest("a.png", scale=3.0)]),
        ("upscale a.png 2x. I changed my mind, make it 4x instead", [ImageRequest("a.png", scale=4.0)]),
        ("enlarge a.jpeg to 5000px. I'll send the other 2 later", [ImageRequest("a.jpeg", long_side=5000)]),
        ("I'll enlarge holiday.jpg later", []),
    ],
)
def test_a_request_taken_back_or_put_off_asks_for_nothing(message: str, expected: list[ImageRequest]) -> None:
    assert parse_request(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("enlrage cat.png 3 tims", ImageRequest("cat.png", scale=3.0)),
        ("upsclae scan.jpg x4 pleas", ImageRequest("scan.jpg", scale=4.0)),
        ("make logo.png biger, 1200 wide", ImageRequest("logo.png", width=1200)),
    ],
)
def test_a_misspelt_request_word_is_read_as_meant(message: str, expected: ImageRequest) -> None:
    assert parse_request(message) == [expected]


@pytest.mark.parametrize(
    "message",
    [
        "I resized tiles.png 4 times and it got blurry, why?",  # a report, and "tiles" is a word
        "at the same time my photo.png looks odd",
    ],
)
def test_words_near_request_words_are_not_misread(message: str) -> None:
    assert parse_request(message) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("crop headshot.jpg to 800x800", []),  # the size is the crop's
        ("rotate scan.png 90 degrees and make it 2000 wide", [ImageRequest("scan.png", width=2000)]),
        ("crop and upscale headshot.jpg 2x", [ImageRequest("headshot.jpg", scale=2.0)]),
        ("please convert banner.png to 1920x1080", [ImageRequest("banner.png", width=1920, height=1080)]),
    ],
)
def test_another_edit_asks_for_no_enlargement_unless_one_is_asked_too(
    message: str, expected: list[ImageRequest]
) -> None:
    assert parse_request(message) == expected


def test_of_several_pictures_the_one_only_named_in_a_report_of_an_earlier_run_is_not_asked_for() -> None:
    assert parse_request("Last week you enlarged dog.png 2x. Now please do cat.png at 3x.") == [
        ImageRequest("cat.png", scale=3.0)
    ]
    assert parse_request("upscale dog.png and cat.png 2x") == [
        ImageRequest("dog.png", scale=2.0),
        ImageRequest("cat.png", scale=2.0),
    ]
