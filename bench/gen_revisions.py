#!/usr/bin/env python3
"""Generate a synthetic alembix project for benchmarks.

    gen_revisions.py linear   N DIR [--seed S]
    gen_revisions.py branched N DIR [--seed S]

Writes DIR/alembix.toml (empty: defaults to `migrations = "migrations"`) and
N revision files DIR/migrations/{id}_{slug}.sql in the documented format.

* linear:   r0 <- r1 <- ... <- r(N-1); one base, one head.
* branched: a short trunk, then repeated "epochs": the trunk head forks into
  2-4 branches, each grows a few revisions (some carrying `Depends On:`
  pointing at a revision on a sibling branch), branches are merged back
  (sometimes pairwise first, then all together), and the merge continues the
  trunk. A second root with its own branch label joins the trunk half-way.
  The last revision is a merge, so the project ends with a single head
  (`alembix show head` works). Every edge points at an earlier-generated
  revision, so the graph is acyclic by construction.

Deterministic for a given seed.
"""
import argparse
import datetime
import os
import random
import sys

COLUMN_TYPES = [
    "text", "text NOT NULL", "bigint", "integer NOT NULL DEFAULT 0",
    "boolean NOT NULL DEFAULT false", "numeric(12, 2)", "timestamptz",
    "jsonb NOT NULL DEFAULT '{}'::jsonb", "uuid", "varchar(255)",
]
WORDS = [
    "users", "orders", "invoices", "payments", "accounts", "sessions",
    "products", "carts", "shipments", "addresses", "audit_log", "teams",
    "projects", "tickets", "comments", "tags", "events", "webhooks",
]
COLUMN_NAMES = [
    "name", "email", "status", "amount", "owner_id", "external_ref", "notes",
    "metadata", "quantity", "is_active", "archived_at", "region", "priority",
]


class Gen:
    def __init__(self, n, out, seed):
        self.n = n
        self.out = out
        self.mig = os.path.join(out, "migrations")
        self.rng = random.Random(seed)
        self.ids = set()
        self.count = 0
        self.t0 = datetime.datetime(2024, 1, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)

    def new_id(self):
        while True:
            rid = "%012x" % self.rng.getrandbits(48)
            if rid not in self.ids:
                self.ids.add(rid)
                return rid

    def left(self):
        return self.n - self.count

    def write(self, parents, message=None, depends=(), labels=()):
        """Write one revision; return its id."""
        i = self.count
        self.count += 1
        rid = self.new_id()
        table = "%s_%05d" % (self.rng.choice(WORDS), i)
        if message is None:
            message = "Create table %s" % table if len(parents) < 2 else "Merge heads"
        slug = "".join(c if c.isalnum() else "_" for c in message.lower()).strip("_")[:40]
        date = self.t0 + datetime.timedelta(minutes=37 * i, microseconds=self.rng.randrange(10**6))
        cols = self.rng.sample(COLUMN_NAMES, self.rng.randint(3, 6))
        lines = [
            "-- %s" % message,
            "--",
            "-- Revision ID: %s" % rid,
            "-- Revises: %s" % ", ".join(parents),
            "-- Create Date: %s" % date.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"),
        ]
        if labels:
            lines.append("-- Branch Labels: %s" % ", ".join(labels))
        if depends:
            lines.append("-- Depends On: %s" % ", ".join(depends))
        lines += ["", "-- migrate:up"]
        if len(parents) >= 2:
            lines.append("-- merge: no schema change")
            lines += ["", "-- migrate:down", "-- merge: no schema change", ""]
        else:
            lines.append("CREATE TABLE %s (" % table)
            lines.append("    id bigserial PRIMARY KEY,")
            for c in cols:
                lines.append("    %s %s," % (c, self.rng.choice(COLUMN_TYPES)))
            lines.append("    created_at timestamptz NOT NULL DEFAULT now()")
            lines.append(");")
            lines.append("CREATE INDEX %s_%s_idx ON %s (%s);" % (table, cols[0], table, cols[0]))
            lines += ["", "-- migrate:down", "DROP TABLE %s;" % table, ""]
        path = os.path.join(self.mig, "%s_%s.sql" % (rid, slug))
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return rid


def linear(g):
    prev = []
    while g.left() > 0:
        prev = [g.write(prev)]


def branched(g):
    rng = g.rng
    # Trunk start.
    head = None
    for _ in range(min(5, g.left())):
        head = g.write([head] if head else [])
    # A second root (with a branch label) starts at ~N/4, grows one revision per epoch
    # alongside the trunk, and is merged into the trunk at ~N/2.
    side_start, side_merge = g.n // 4, g.n // 2
    side_head, side_done = None, False
    while g.left() > 0:
        if not side_done and g.left() > 10:
            if side_head is None and g.count >= side_start:
                side_head = g.write([], message="Create reporting schema", labels=("reporting",))
            elif side_head is not None and g.count < side_merge:
                side_head = g.write([side_head])
            elif side_head is not None:
                head = g.write([head, side_head])
                side_head, side_done = None, True
        budget = g.left()
        if budget <= 3:
            while g.left() > 0:
                head = g.write([head])
            break
        width = rng.randint(2, 4)
        per_branch = rng.randint(3, 25)
        # Revisions needed for this epoch: width branches * per_branch + merges (<= width).
        need = width * per_branch + width
        if need > budget - 1:
            per_branch = max(1, (budget - 1 - width) // width)
            if per_branch < 1 or width * per_branch + width > budget:
                width = 1
                per_branch = budget - 1
        if width == 1:
            for _ in range(per_branch):
                head = g.write([head])
            if g.left() > 0:
                head = g.write([head])
            continue
        tips = [head] * width
        made = [[] for _ in range(width)]
        # Interleave growth of the branches, as concurrent teams would.
        for step in range(per_branch):
            for b in range(width):
                deps = ()
                others = [x for j in range(width) if j != b for x in made[j]]
                if others and rng.random() < 0.04:
                    deps = (rng.choice(others),)
                tips[b] = g.write([tips[b]], depends=deps)
                made[b].append(tips[b])
        # Merge: sometimes pairwise first, then everything.
        if width >= 3 and rng.random() < 0.5:
            m = g.write([tips[0], tips[1]])
            tips = [m] + tips[2:]
        head = g.write(tips)
    if side_head is not None:  # side branch never merged (tiny N): merge it now so there is one head
        head = g.write([head, side_head])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shape", choices=["linear", "branched"])
    ap.add_argument("n", type=int)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args()
    g = Gen(a.n, a.dir, a.seed)
    os.makedirs(g.mig, exist_ok=True)
    open(os.path.join(a.dir, "alembix.toml"), "w").close()
    (linear if a.shape == "linear" else branched)(g)
    print("%s: %d revisions in %s" % (a.shape, g.count, g.mig), file=sys.stderr)


if __name__ == "__main__":
    main()
