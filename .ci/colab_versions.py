"""After `pip install .` in the Colab-like environment: coursekit's declared dependencies must
not have replaced any of Colab's packages, and Python must import the installed coursekit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PINNED = ("tensorflow", "keras", "tf-keras", "numpy", "pandas")


def versions(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        if "==" in line:
            name, version = line.strip().split("==", 1)
            found[name.lower().replace("_", "-")] = version
    return found


def main() -> None:
    before = versions(Path(sys.argv[1]).read_text().splitlines())
    after = versions(subprocess.run([sys.executable, "-m", "pip", "freeze"], check=True,
                                    capture_output=True, text=True).stdout.splitlines())
    moved = {name: (before[name], after.get(name)) for name in before
             if name.replace("_", "-") in {p.replace("_", "-") for p in PINNED}
             and after.get(name) != before[name]}
    if moved:
        sys.exit(f"installing coursekit replaced Colab's packages: {moved}; loosen the ranges "
                 "in pyproject.toml so that Colab's versions satisfy them")
    import coursekit

    if "site-packages" not in coursekit.__file__:
        sys.exit(f"coursekit imported from {coursekit.__file__}, not the installed package")
    print(f"coursekit {coursekit.__version__} installed over Colab's versions; none replaced:",
          ", ".join(f"{n} {after[n]}" for n in sorted(after) if n in
                    {p.replace('_', '-') for p in PINNED}))


if __name__ == "__main__":
    main()
