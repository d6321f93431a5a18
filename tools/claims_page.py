"""Write book/claims.md, "The paper's claims, judged", from book/results/*.json (wisetut.claims.claims_page).

python tools/claims_page.py            # rewrite the page
python tools/claims_page.py --check    # exit 1 if it differs from what the results files give
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from wisetut.claims import claims_page  # noqa: E402

PAGE = ROOT / "book" / "claims.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    text = claims_page(ROOT / "book" / "results")
    if args.check:
        if PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} differs from what book/results/*.json give: run python tools/claims_page.py")
            return 1
        return 0
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
