"""Checks of the pictures `layermerge front --svg/--csv` and `compress
--report` write, for tests/cli/pictures.sh. Each subcommand prints one line
per failed check ("FAIL: ...") and exits 1 when any failed, else prints
what it checked.

usage: pictures_check.py front FRONT.txt FRONT.svg FRONT.csv SOLVE.txt...
       pictures_check.py report INDEX.html COMPRESS.txt CONVS FRONT.txt
"""
import csv
import html.parser
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def front_table(path):
    """Rows (latency, units, importance, segments, pruned) of `front`."""
    rows = []
    with open(path) as f:
        lines = f.read().splitlines()
    check(lines and lines[0].split()[:3] == ["point", "latency_ms", "units"],
          "front table header")
    for line in lines[1:]:
        w = line.split()
        rows.append((float(w[1]), int(w[2]), float(w[3]), int(w[4]),
                     int(w[5])))
    return rows


def by_class(root, cls):
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def first_number(text):
    return float(re.search(r"[-0-9.]+(?:e[-+]?[0-9]+)?", text).group(0))


def check_front(txt, svg, csv_path, solves):
    rows = front_table(txt)
    check(len(rows) > 3, "the front has several points (%d)" % len(rows))
    root = ET.parse(svg).getroot()  # raises (fails the test) when malformed
    check(root.tag == SVG + "svg", "the root is an SVG element")
    check(root.get("version") == "1.1", "SVG 1.1")
    points = by_class(root, "front-point")
    check(len(points) == len(rows),
          "one marker per front point (%d markers, %d points)"
          % (len(points), len(rows)))
    check(len(by_class(root, "original")) == 1, "the original network marked")
    marks = by_class(root, "mark")
    check(len(marks) == len(solves),
          "one mark per --mark ratio (%d)" % len(marks))
    texts = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
    for want in ("predicted latency (ms)", "importance", "Pareto front",
                 "original network"):
        check(want in texts, "the plot says '%s'" % want)
    check(root.find(SVG + "title") is not None, "the plot has a title")
    check(not [e for e in root.iter() if e.tag in (SVG + "script",
                                                   SVG + "image")],
          "no scripts, no images")
    with open(svg) as f:
        raw = f.read()
    check("href" not in raw and raw.count("http:") == 1,
          "no reference but the SVG namespace")
    # The marks are the solutions `solve --ratio R` chooses.
    for mark, solve in zip(marks, solves):
        with open(solve) as f:
            m = re.search(r"predicted latency: *([0-9.]+)", f.read())
        tip = mark.find(SVG + "title").text
        got = first_number(tip.split(":")[1])
        want = float(m.group(1))
        check(abs(got - want) <= 1e-3 * want,
              "mark '%s' is solve's %g ms" % (tip, want))
    with open(csv_path, newline="") as f:
        table = list(csv.DictReader(f))
    check(len(table) == len(rows), "one CSV row per front point")
    for i, (row, t) in enumerate(zip(table, rows)):
        ok = (int(row["point"]) == i and
              abs(float(row["latency_ms"]) - t[0]) < 1e-6 and
              int(row["latency_units"]) == t[1] and
              abs(float(row["importance"]) - t[2]) < 1e-9 and
              int(row["segments"]) == t[3] and
              int(row["pruned_convs"]) == t[4])
        check(ok, "CSV row %d matches the table" % i)
    check(all(len(r["importance"]) > 10 for r in table),
          "CSV numbers at full precision")
    print("front: %d points, %d marks checked" % (len(rows), len(marks)))


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.figures, self.svgs, self.convs = [], 0, 0, []
        self.rows, self.cell, self.cells, self.errors = [], None, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag not in ("meta", "br"):
            self.stack.append(tag)
        if tag == "figure" and "budget-network" in cls:
            self.figures += 1
            self.convs.append(0)
        if tag == "svg":
            self.svgs += 1
        if tag == "g" and "conv" in cls and self.convs:
            self.convs[-1] += 1
        if tag == "tr":
            self.cells = []
        if tag == "td":
            self.cell = ""

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("meta", "br"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" %
                               (tag, self.stack[-1] if self.stack else ""))
            return
        self.stack.pop()
        if tag == "td":
            self.cells.append(self.cell)
            self.cell = None
        if tag == "tr" and self.cells:
            self.rows.append(self.cells)

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def check_report(path, compress_out, convs, front_txt):
    with open(path) as f:
        raw = f.read()
    ET.fromstring(raw.replace("<!DOCTYPE html>", ""))  # well-formed XML too
    page = Page()
    page.feed(raw)
    page.close()
    check(not page.errors and not page.stack,
          "tags balanced (%s)" % (page.errors[:3] or page.stack[:3]))
    with open(compress_out) as f:
        lines = [dict(kv.split("=") for kv in l.split())
                 for l in f.read().splitlines() if l.startswith("budget_ratio=")]
    check(len(lines) >= 1, "compress printed its budget lines")
    check(page.figures == len(lines), "one network picture per budget "
          "(%d pictures, %d budgets)" % (page.figures, len(lines)))
    check(all(c == convs for c in page.convs),
          "every picture shows the %d convs (%s)" % (convs, page.convs))
    check(page.svgs == 3 + len(lines), "two plots, a legend and the pictures "
          "inline (%d svg)" % page.svgs)
    low = raw.lower()
    for bad in ("http:", "https:", "src=", "href=", "url(", "@import",
                "<script", "<link", "<img", "<iframe", "<object"):
        check(bad not in low, "no external reference '%s'" % bad)
    # The budget table: the measured median and speed-up compress printed.
    table = {r[0]: r for r in page.rows if r and r[0] not in ("original",)}
    for l in lines:
        r = table.get(l["budget_ratio"])
        check(r is not None, "a table row for budget %s" % l["budget_ratio"])
        if r is None:
            continue
        for col, key in ((3, "merged_ms"), (2, "predicted_ms")):
            got, want = float(r[col]), float(l[key])
            check(abs(got - want) <= 1e-3 * want + 1e-4,
                  "budget %s %s: table %s, printed %s"
                  % (l["budget_ratio"], key, r[col], l[key]))
        check(abs(float(r[5].rstrip("x")) - float(l["speedup"])) < 0.006,
              "budget %s speed-up" % l["budget_ratio"])
    n_front = len(front_table(front_txt))
    got = len(re.findall(r'class="front-point"', raw))
    check(got == n_front, "the report's front has the %d points `front` "
          "computes (%d)" % (n_front, got))
    print("report: %d budgets, %d front points checked" %
          (len(lines), n_front))


if __name__ == "__main__":
    if sys.argv[1] == "front":
        check_front(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        check_report(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    sys.exit(1 if failures else 0)
