package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// The shipped network's raft settings: 100 ms ticks, election after 10.
var testTiming = timingFor(netspec.Ordering{
	TickInterval: netspec.Duration(100 * time.Millisecond), ElectionTick: 10, HeartbeatTick: 1,
})

func TestTimingForShippedNetwork(t *testing.T) {
	want := raftTiming{withLeader: time.Second, noLeader: 3 * time.Second, replay: 500 * time.Millisecond}
	if testTiming != want {
		t.Fatalf("timingFor = %+v, want %+v", testTiming, want)
	}
	slow := timingFor(netspec.Ordering{TickInterval: netspec.Duration(500 * time.Millisecond), ElectionTick: 10, HeartbeatTick: 1})
	want = raftTiming{withLeader: 5 * time.Second, noLeader: 11 * time.Second, replay: 2500 * time.Millisecond}
	if slow != want {
		t.Fatalf("timingFor(Fabric defaults) = %+v, want %+v", slow, want)
	}
}

func TestRaftWatchVerdicts(t *testing.T) {
	type step struct {
		at         time.Duration // since the start
		s          raftSample
		rl         replayLog
		othersLead bool
		want       raftVerdict
	}
	member := func(persists float64, leader bool) raftSample {
		return raftSample{member: true, leader: leader, persists: persists, clusterSize: 3}
	}
	replayed := replayLog{fromFirst: true, applied: 3}
	tests := []struct {
		name  string
		steps []step
	}{
		{"follower sees the leader and answers heartbeats", []step{
			{0, member(3, true), replayed, true, raftPending},
			{100 * time.Millisecond, member(4, true), replayed, true, raftPending},
			{200 * time.Millisecond, member(5, true), replayed, true, raftLive},
		}},
		{"leader of the channel", []step{
			{0, raftSample{member: true, isLeader: true, leader: true, persists: 10, clusterSize: 3}, replayed, false, raftPending},
			{200 * time.Millisecond, raftSample{member: true, isLeader: true, leader: true, persists: 12, clusterSize: 3}, replayed, false, raftLive},
		}},
		{"stuck in the replay: fewer config changes than consenters", []step{
			{0, member(2, false), replayLog{fromFirst: true, applied: 1}, false, raftPending},
			{400 * time.Millisecond, member(2, false), replayLog{fromFirst: true, applied: 1}, false, raftPending},
			{500 * time.Millisecond, member(2, false), replayLog{fromFirst: true, applied: 1}, false, raftStuck},
		}},
		{"stuck at the first config change, leader elsewhere", []step{
			{0, member(1, false), replayLog{fromFirst: true}, true, raftPending},
			{600 * time.Millisecond, member(1, false), replayLog{fromFirst: true}, true, raftStuck},
		}},
		{"saw the leader in the apply that deadlocked", []step{
			{0, member(2, true), replayed, true, raftPending},
			{100 * time.Millisecond, member(3, true), replayed, true, raftPending},
			{900 * time.Millisecond, member(3, true), replayed, true, raftPending},
			{1100 * time.Millisecond, member(3, true), replayed, true, raftStuck},
		}},
		{"frozen, nothing in the log, no leader anywhere", []step{
			{0, member(2, false), replayLog{}, false, raftPending},
			{2900 * time.Millisecond, member(2, false), replayLog{}, false, raftPending},
			{3 * time.Second, member(2, false), replayLog{}, false, raftStuck},
		}},
		{"restart from a snapshot replays no config changes", []step{
			{0, member(1, false), replayLog{}, false, raftPending},
			{1500 * time.Millisecond, member(1, false), replayLog{}, false, raftPending},
			{1600 * time.Millisecond, member(2, false), replayLog{}, false, raftPending},
			{2 * time.Second, member(3, true), replayLog{}, true, raftPending},
			{2200 * time.Millisecond, member(5, true), replayLog{}, true, raftLive},
		}},
		{"replayed, campaigning without quorum, not killed", []step{
			{0, member(2, false), replayed, false, raftPending},
			{1500 * time.Millisecond, member(3, false), replayed, false, raftPending},
			{3 * time.Second, member(4, false), replayed, false, raftPending},
			{4500 * time.Millisecond, member(5, false), replayed, false, raftPending},
			{6 * time.Second, member(6, false), replayed, false, raftLiveAlone},
		}},
		{"not joined to the channel", []step{
			{0, raftSample{}, replayLog{}, true, raftPending},
			{2 * time.Second, raftSample{}, replayLog{}, true, raftPending},
			{3 * time.Second, raftSample{}, replayLog{}, true, raftNotMember},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			w := newRaftWatch(t0, 0)
			for i, st := range tt.steps {
				if got := w.observe(t0.Add(st.at), st.s, st.rl, st.othersLead, testTiming); got != st.want {
					t.Fatalf("step %d (at %s): %s, want %s", i, st.at, got, st.want)
				}
			}
		})
	}
}

func TestParseRaftSample(t *testing.T) {
	metrics := `# HELP consensus_etcdraft_is_leader The leadership status of the current node: 1 if it is the leader else 0.
# TYPE consensus_etcdraft_is_leader gauge
consensus_etcdraft_is_leader{channel="other"} 1
consensus_etcdraft_is_leader{channel="pharmatrace"} 0
consensus_etcdraft_cluster_size{channel="pharmatrace"} 3
consensus_etcdraft_data_persist_duration_bucket{channel="pharmatrace",le="0.005"} 2
consensus_etcdraft_data_persist_duration_count{channel="pharmatrace"} 2
`
	got := parseRaftSample([]byte(metrics), "pharmatrace")
	want := raftSample{member: true, persists: 2, clusterSize: 3}
	if got != want {
		t.Fatalf("stuck node: %+v, want %+v", got, want)
	}
	metrics += `consensus_etcdraft_leader_changes{channel="pharmatrace"} 1` + "\n"
	if got := parseRaftSample([]byte(metrics), "pharmatrace"); !got.leader || got.isLeader {
		t.Fatalf("follower: %+v, want leader seen, not leading", got)
	}
	if got := parseRaftSample([]byte(metrics), "none"); got.member {
		t.Fatalf("channel without a chain: %+v, want not a member", got)
	}
}

func TestReadReplayLog(t *testing.T) {
	// Abridged from an orderer log: a start that got through, then one
	// stuck after the first config change.
	first := "\n" + startMarker + "2026-11-24T08:25:43Z orderer0\n" +
		"INFO [orderer.consensus.etcdraft] newRaft -> newRaft 1 [peers: [], term: 6, commit: 18, applied: 0, lastindex: 18, lastterm: 6]\n" +
		"INFO [orderer.consensus.etcdraft] apply -> Applied config change to add node 1, current nodes in channel: [1]\n" +
		"INFO [orderer.consensus.etcdraft] apply -> Applied config change to add node 2, current nodes in channel: [1 2]\n" +
		"INFO [orderer.consensus.etcdraft] apply -> Applied config change to add node 3, current nodes in channel: [1 2 3]\n" +
		"INFO [orderer.consensus.etcdraft] run -> Raft leader changed: 0 -> 3\n"
	second := "\n" + startMarker + "2026-11-24T08:31:07Z orderer0\n" +
		"INFO [orderer.consensus.etcdraft] newRaft -> newRaft 1 [peers: [], term: 6, commit: 48, applied: 0, lastindex: 49, lastterm: 6]\n" +
		"INFO [orderer.consensus.etcdraft] apply -> Applied config change to add node 1, current nodes in channel: [1]\n" +
		"INFO [orderer.consensus.etcdraft] run -> raft.node: 1 elected leader 2 at term 7\n"
	p := filepath.Join(t.TempDir(), "orderer0.log")
	if err := os.WriteFile(p, []byte(first+second), 0o644); err != nil {
		t.Fatal(err)
	}
	secondAt := lastStartMarker(p)
	if want := int64(len(first) + 1); secondAt != want {
		t.Fatalf("lastStartMarker = %d, want %d", secondAt, want)
	}
	tests := []struct {
		name string
		from int64
		want replayLog
	}{
		{"stuck start from its marker", secondAt, replayLog{fromFirst: true, applied: 1}},
		{"stuck start from the log size before it", int64(len(first)), replayLog{fromFirst: true, applied: 1}},
		{"earlier start ends at the next marker", 0, replayLog{fromFirst: true, applied: 3}},
		{"no marker", -1, replayLog{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readReplayLog(p, tt.from); got != tt.want {
				t.Fatalf("readReplayLog(%d) = %+v, want %+v", tt.from, got, tt.want)
			}
		})
	}
	snap := strings.Replace(second, "applied: 0,", "applied: 52,", 1)
	if err := os.WriteFile(p, []byte(snap), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readReplayLog(p, 0); got.fromFirst {
		t.Fatalf("restart from a snapshot: %+v, want fromFirst false", got)
	}
}
