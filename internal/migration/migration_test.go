package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoad: the files come back in version order whatever their names sort
// as, other files are ignored, and a bad name, a doubled version or a gap is
// refused with the file it is about.
func TestLoad(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []string // the names, in order
		wantErr string
	}{
		{name: "in version order", fsys: fstest.MapFS{
			"m/0010_ten.sql":   file("10"),
			"m/0002_two.sql":   file("2"),
			"m/1_one.sql":      file("1"),
			"m/0003_three.sql": file("3"), "m/0004_four.sql": file("4"), "m/0005_five.sql": file("5"),
			"m/0006_six.sql": file("6"), "m/0007_seven.sql": file("7"), "m/0008_eight.sql": file("8"), "m/0009_nine.sql": file("9"),
		}, want: []string{"1_one.sql", "0002_two.sql", "0003_three.sql", "0004_four.sql", "0005_five.sql", "0006_six.sql", "0007_seven.sql", "0008_eight.sql", "0009_nine.sql", "0010_ten.sql"}},
		{name: "other files ignored", fsys: fstest.MapFS{
			"m/0001_ledger.sql": file("a"),
			"m/README.md":       file("not sql"),
			"m/0002_x.sql.bak":  file("old"),
			"m/sub/0002_y.sql":  file("nested"),
			"other/0002_z.sql":  file("elsewhere"),
		}, want: []string{"0001_ledger.sql"}},
		{name: "a gap", fsys: fstest.MapFS{
			"m/0001_a.sql": file("a"), "m/0003_c.sql": file("c"),
		}, wantErr: "migration 0003_c.sql: version 2 is missing"},
		{name: "no version 1", fsys: fstest.MapFS{
			"m/0002_b.sql": file("b"),
		}, wantErr: "version 1 is missing"},
		{name: "a duplicate number", fsys: fstest.MapFS{
			"m/0001_a.sql": file("a"), "m/0002_b.sql": file("b"), "m/02_c.sql": file("c"),
		}, wantErr: "have the same version"},
		{name: "no number", fsys: fstest.MapFS{
			"m/0001_a.sql": file("a"), "m/ledger.sql": file("b"),
		}, wantErr: "migration ledger.sql: the name must start with a version number"},
		{name: "a signed number", fsys: fstest.MapFS{
			"m/+1_a.sql": file("a"),
		}, wantErr: "the name must start with a version number"},
		{name: "version 0", fsys: fstest.MapFS{
			"m/0000_a.sql": file("a"),
		}, wantErr: "the name must start with a version number"},
		{name: "none", fsys: fstest.MapFS{"m/README.md": file("x")}, wantErr: "no migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.fsys, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			var names []string
			for i, f := range got {
				names = append(names, f.Name)
				if f.Version != i+1 || f.SQL != string(tt.fsys["m/"+f.Name].Data) {
					t.Errorf("file %d = version %d, SQL %q; want version %d and the file's text", i, f.Version, f.SQL, i+1)
				}
			}
			if strings.Join(names, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Load() names = %v; want %v", names, tt.want)
			}
		})
	}
}

// TestPending: only the versions not yet applied are returned, in order; a
// database with a version this build does not have is refused.
func TestPending(t *testing.T) {
	all := []File{{Version: 1, Name: "0001_a.sql"}, {Version: 2, Name: "0002_b.sql"}, {Version: 3, Name: "0003_c.sql"}}
	tests := []struct {
		applied []int
		want    string
		wantErr bool
	}{
		{applied: nil, want: "0001_a.sql 0002_b.sql 0003_c.sql"},
		{applied: []int{2, 1}, want: "0003_c.sql"},
		{applied: []int{1, 3}, want: "0002_b.sql"},
		{applied: []int{1, 2, 3}, want: ""},
		{applied: []int{1, 2, 3, 4}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := Pending(all, tt.applied)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "version 4, newer than this build's 3") {
				t.Errorf("Pending(applied %v) = %v, %v; want a refusal naming versions 4 and 3", tt.applied, got, err)
			}
			continue
		}
		var names []string
		for _, f := range got {
			names = append(names, f.Name)
		}
		if err != nil || strings.Join(names, " ") != tt.want {
			t.Errorf("Pending(applied %v) = %v, %v; want %q", tt.applied, names, err, tt.want)
		}
	}
}
