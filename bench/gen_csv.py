#!/usr/bin/python3
"""gen_csv.py ROWS OUT — writes a deterministic benchmark CSV with 20 columns:
8 ints, 8 floats (mixed precision, one at full round-trip precision, a few nulls),
2 short strings, 1 bool and 1 ISO date. Same bytes on every run (seeded)."""
import datetime
import random
import sys

def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(20240501)
    cities = ["Oslo", "Lima", "Pune", "Kyiv", "Cork", "Nice", "Bonn", "Gent", "Baku", "Riga",
              "Yazd", "Hue", "Nara", "Fez", "Ica", "Ulm"]
    grades = ["A", "B", "C", "D", "E", "F", "G", "H"]
    day0 = datetime.date(2000, 1, 1).toordinal()
    header = [f"i{k}" for k in range(8)] + [f"f{k}" for k in range(8)] + \
             ["city", "grade", "flag", "day"]
    with open(out, "w", newline="") as fh:
        fh.write(",".join(header) + "\n")
        for r in range(rows):
            row = [str(r), str(rng.randrange(100)), str(rng.randrange(-5000, 5000)),
                   str(rng.randrange(10**9)), str(rng.randrange(2)), str(rng.randrange(1, 13)),
                   str(rng.randrange(1900, 2025)), str(rng.randrange(10**6))]
            g = rng.gauss
            floats = [f"{g(0, 1):.4f}", f"{g(50, 10):.2f}", f"{rng.random() * 1000:.3f}",
                      f"{g(0, 1e-3):.6g}", f"{rng.random():.5f}", repr(rng.random()),
                      f"{g(100, 30):.1f}", f"{rng.expovariate(0.1):.4e}"]
            if rng.random() < 0.01:
                floats[1] = ""
            if rng.random() < 0.005:
                floats[6] = "NA"
            row += floats
            row += [rng.choice(cities), rng.choice(grades), rng.choice(("true", "false")),
                    datetime.date.fromordinal(day0 + rng.randrange(9000)).isoformat()]
            fh.write(",".join(row) + "\n")

if __name__ == "__main__":
    main()
