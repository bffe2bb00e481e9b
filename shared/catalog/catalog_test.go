package catalog

import (
	"encoding/json"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// encoded is the size MaxBytes bounds, computed the slow way.
func encoded(insults []string) int {
	b, _ := json.Marshal(insults)
	if len(insults) == 0 {
		return 0
	}
	return len(b) - 1 // "[" and "]" against one separator per insult: one byte fewer than the list
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name        string
		entries     []Entry
		want        []string
		broadcast   bool
		wantChanges uint64
	}{
		{"add", []Entry{{Op: OpAdd, Insult: "fool"}}, []string{"fool"}, false, 1},
		{"add normalises spacing, keeps first spelling", []Entry{{Op: OpAdd, Insult: "  Big   Fool "}, {Op: OpAdd, Insult: "big fool"}},
			[]string{"Big Fool"}, false, 1},
		{"remove ignores case", []Entry{{Op: OpAdd, Insult: "Fool"}, {Op: OpRemove, Insult: "FOOL"}}, nil, false, 2},
		{"remove of an unknown insult changes nothing", []Entry{{Op: OpRemove, Insult: "fool"}}, nil, false, 0},
		{"seed once", []Entry{{Op: OpSeed, Insults: []string{"a", "b"}}, {Op: OpRemove, Insult: "a"}, {Op: OpSeed, Insults: []string{"a"}}},
			[]string{"b"}, false, 2},
		{"broadcast switch", []Entry{{Op: OpBroadcastOn}, {Op: OpBroadcastOn}}, nil, true, 1},
		{"sync and snapshot entries change nothing", []Entry{{Op: OpAdd, Insult: "x"}, {Op: OpSync}, {Op: OpSnapshot, Insults: []string{"y"}, Seeded: true}},
			[]string{"x"}, false, 1},
		{"unknown ops are ignored", []Entry{{Op: "shout"}}, nil, false, 0},
		{"escaped characters are sized as encoded", []Entry{{Op: OpAdd, Insult: `<"quoted">`}, {Op: OpAdd, Insult: "naïve 😀"}},
			[]string{`<"quoted">`, "naïve 😀"}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{}
			for _, e := range tc.entries {
				s, _ = s.apply(e)
			}
			if !slices.Equal(s.Insults, tc.want) || s.Broadcasting != tc.broadcast || s.Version != tc.wantChanges {
				t.Fatalf("got %q broadcasting=%v version=%d, want %q broadcasting=%v version=%d",
					s.Insults, s.Broadcasting, s.Version, tc.want, tc.broadcast, tc.wantChanges)
			}
			if s.Size() != encoded(s.Insults) {
				t.Fatalf("size %d, encoded list is %d", s.Size(), encoded(s.Insults))
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := &Snapshot{}
	for _, e := range []Entry{{Op: OpSeed, Insults: []string{"a", "b"}}, {Op: OpAdd, Insult: "c"}, {Op: OpBroadcastOn}} {
		s, _ = s.apply(e)
	}
	through := int64(41)
	body, err := json.Marshal(Entry{Op: OpSnapshot, Insults: s.Insults, Broadcasting: s.Broadcasting, Seeded: s.Seeded, Through: &through})
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	got := fromEntry(e)
	if !slices.Equal(got.Insults, s.Insults) || got.Broadcasting != s.Broadcasting || got.Seeded != s.Seeded || got.Size() != s.Size() {
		t.Fatalf("from snapshot %+v, want %+v", got, s)
	}
	// A seed after the snapshot must not come back: the snapshot says the log was seeded.
	if after, changed := got.apply(Entry{Op: OpSeed, Insults: []string{"z"}}); changed || after.Has("z") {
		t.Fatal("seed applied after a seeded snapshot")
	}
}

// TestLoadFromCollectedEntries: a load builds its state from the snapshot reflecting the most and the
// entries after what it reflects, whatever came before (a log cut by retention) and in whatever order
// concurrent writers stored their snapshots.
func TestLoadFromCollectedEntries(t *testing.T) {
	at := func(o int64) *int64 { return &o }
	add := func(in string) Entry { return Entry{Op: OpAdd, Insult: in} }
	remove := func(in string) Entry { return Entry{Op: OpRemove, Insult: in} }
	snap := func(through int64, insults ...string) Entry {
		return Entry{Op: OpSnapshot, Insults: insults, Seeded: true, Through: at(through)}
	}
	type logged struct {
		offset int64
		e      Entry
	}
	for _, tc := range []struct {
		name         string
		log          []logged
		want         []string
		fromSnapshot bool
	}{
		{"a young log without snapshot is replayed whole",
			[]logged{{0, Entry{Op: OpSeed, Insults: []string{"a", "b"}}}, {1, remove("a")}, {2, add("c")}}, []string{"b", "c"}, false},
		{"a cut log: what precedes the snapshot is ignored",
			// The remove of "x" at 10 lost its add to retention; the snapshot at 12 says what the log held.
			[]logged{{10, remove("x")}, {11, add("y")}, {12, snap(11, "a", "y")}, {13, add("z")}}, []string{"a", "y", "z"}, true},
		{"entries between what a snapshot reflects and the snapshot itself are applied",
			[]logged{{20, add("p")}, {21, add("q")}, {22, snap(20, "a", "p")}, {23, remove("a")}}, []string{"p", "q"}, true},
		{"a snapshot stored after a newer one is skipped",
			[]logged{{30, add("m")}, {31, add("n")}, {32, snap(31, "m", "n")}, {33, snap(30, "m")}, {34, add("o")}},
			[]string{"m", "n", "o"}, true},
		{"a later, newer snapshot wins",
			[]logged{{40, snap(39, "old")}, {41, remove("old")}, {42, add("new")}, {43, snap(42, "new")}}, []string{"new"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &follower{}
			for _, l := range tc.log {
				f.collect(l.offset, l.e)
			}
			got := f.materialize()
			if !slices.Equal(got.Insults, tc.want) || (f.best != nil) != tc.fromSnapshot {
				t.Fatalf("got %q (from snapshot: %v), want %q (%v)", got.Insults, f.best != nil, tc.want, tc.fromSnapshot)
			}
		})
	}
}
