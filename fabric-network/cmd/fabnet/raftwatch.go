package main

// Fabric v2.5.0's etcdraft orderer can deadlock while it starts on an
// existing channel (hyperledger/fabric#4199, fixed by #4201 after 2.5.0).
// Until its first raft snapshot (SnapshotIntervalSize: 1 MB of blocks on
// channels fabnet creates now, 16 MB on older ones) an orderer replays its whole raft log at start, beginning with the
// ConfChange entries that added each consenter. For each, the chain's apply
// sends on storage.WALSyncC, which only the raft node's run loop receives;
// when that loop has meanwhile taken the next raft Ready it blocks handing
// it to the chain, and neither moves again. The loop has a next Ready at
// once when the replayed entries span more than one Ready (more than the
// channel's PreferredMaxBytes, 2 MB here): then only about one start in
// five gets through. A stuck orderer still serves /healthz, the admin API
// and /metrics but never ticks, votes or answers the leader; its log stops
// after fewer "Applied config change to add node N" lines than there are
// consenters, without "Raft leader changed". Its etcd/raft goroutine still
// steps incoming messages, so "elected leader" or "cast MsgPreVote" lines
// may follow and prove nothing. Two of three orderers stuck: no leader.
//
// fabnet therefore watches every orderer it starts and kills and restarts
// the stuck ones. The signal is the metric
// consensus_etcdraft_data_persist_duration_count: the run loop observes it
// once per raft Ready it stores, so it grows every heartbeat on a node that
// follows or leads, and every election timeout on a node that campaigns
// for lack of quorum, but freezes in the deadlock. A node is done when its
// chain has seen a leader (consensus_etcdraft_leader_changes, counted where
// the chain logs "Raft leader changed") and its run loop has stored two
// more Readies since (one more may follow the chain into the apply that
// deadlocks). A node whose count stood still for ten heartbeats while
// another orderer leads, or for two election timeouts while none does, is
// stuck; so, already after half an election timeout (Fabric's own bound
// for a WAL sync), is one whose log since its start shows the replay from
// the first raft entry with fewer config changes applied than there are
// consenters: a live one applies them all within milliseconds.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// maxStuckRestarts bounds the restarts of one orderer in one call of
// superviseOrderers. With one start in five getting through, 40 leave a
// chance of 0.8^41 (1e-4) that an orderer is still stuck.
const maxStuckRestarts = 40

// raftSample is what an orderer's /metrics says about its etcdraft chain
// of the channel.
type raftSample struct {
	member      bool    // the chain exists (consensus_etcdraft_is_leader has a sample)
	isLeader    bool    // this node leads
	leader      bool    // the chain's run loop has seen a leader (leader_changes >= 1) or leads
	persists    float64 // raft Readies the run loop has stored since the process started
	clusterSize int     // consenters of the channel
}

func parseRaftSample(metrics []byte, channel string) raftSample {
	label := `channel="` + channel + `"`
	var s raftSample
	isLeader, ok := fabconn.MetricValue(metrics, "consensus_etcdraft_is_leader", label)
	if !ok {
		return s
	}
	s.member = true
	s.isLeader = isLeader == 1
	changes, _ := fabconn.MetricValue(metrics, "consensus_etcdraft_leader_changes", label)
	s.leader = s.isLeader || changes >= 1
	s.persists, _ = fabconn.MetricValue(metrics, "consensus_etcdraft_data_persist_duration_count", label)
	size, _ := fabconn.MetricValue(metrics, "consensus_etcdraft_cluster_size", label)
	s.clusterSize = int(size)
	return s
}

// replayLog is what an orderer's log says about its raft replay since its
// last start.
type replayLog struct {
	fromFirst bool // raft restarted with "applied: 0": the replay starts at the first entry, the ConfChanges
	applied   int  // "Applied config change" lines
}

// raftTiming says how long a raft run loop may store no Ready before the
// node counts as stuck.
type raftTiming struct {
	// withLeader applies while another orderer leads: a live node gets
	// about ten heartbeats in it and stores a Ready for each.
	withLeader time.Duration
	// noLeader applies while no orderer leads: a live node campaigns at
	// least once per randomized election timeout (< 2 * electionTick ticks).
	noLeader time.Duration
	// replay applies while the log shows config changes left to replay.
	replay time.Duration
}

func timingFor(o netspec.Ordering) raftTiming {
	tick := time.Duration(o.TickInterval)
	election := time.Duration(o.ElectionTick) * tick
	return raftTiming{
		withLeader: max(10*time.Duration(o.HeartbeatTick)*tick, time.Second),
		noLeader:   max(2*election+time.Second, 3*time.Second),
		replay:     max(election/2, 500*time.Millisecond),
	}
}

// raftVerdict is what raftWatch concludes about one orderer.
type raftVerdict int

const (
	raftPending   raftVerdict = iota // no conclusion yet
	raftLive                         // sees the leader, its raft loop runs
	raftLiveAlone                    // its raft loop runs, but no orderer leads (too few are up)
	raftStuck                        // its raft loop stopped: the start-up deadlock
	raftNotMember                    // has no chain for the channel
)

func (v raftVerdict) String() string {
	return [...]string{"pending", "live", "live, no leader", "stuck", "not a member"}[v]
}

// raftWatch follows one orderer from its start through its samples.
type raftWatch struct {
	started  time.Time // (re)start, or first watched
	changed  time.Time // persists last changed
	persists float64   // -1 before the first sample
	leaderAt float64   // persists when the leader was first seen; -1 before
	changes  int       // changes of persists since started (the first sample counts)
	logFrom  int64     // offset of the start marker in the node's log; -1 unknown
}

func newRaftWatch(now time.Time, logFrom int64) *raftWatch {
	return &raftWatch{started: now, changed: now, persists: -1, leaderAt: -1, logFrom: logFrom}
}

// observe takes a sample of the node taken at now, with its log since the
// start; othersLead says whether another orderer of the channel reported
// itself leader in the same round.
func (w *raftWatch) observe(now time.Time, s raftSample, rl replayLog, othersLead bool, t raftTiming) raftVerdict {
	if !s.member {
		if now.Sub(w.started) >= t.noLeader {
			return raftNotMember
		}
		return raftPending
	}
	if s.persists != w.persists {
		w.persists, w.changed = s.persists, now
		w.changes++
	}
	if s.leader {
		if w.leaderAt < 0 {
			w.leaderAt = s.persists
		}
		if s.persists >= w.leaderAt+2 {
			return raftLive
		}
	}
	still := now.Sub(w.changed)
	switch {
	case rl.fromFirst && rl.applied < s.clusterSize && still >= t.replay:
		return raftStuck
	case othersLead && still >= t.withLeader:
		return raftStuck
	case still >= t.noLeader:
		return raftStuck
	}
	// The deadlock strikes in the first applies after the start; a loop
	// still storing Readies two windows later is past it.
	if !othersLead && !s.leader && now.Sub(w.started) >= 2*t.noLeader && w.changes >= 3 {
		return raftLiveAlone
	}
	return raftPending
}

// superviseOrderers waits until each of nodes is a live member of the
// channel's raft cluster, killing and restarting those stuck in Fabric
// 2.5.0's start-up deadlock (see the top of this file). A node that runs
// but sees no leader because too few orderers are up is left alone once it
// has shown that for two no-leader windows; one without a chain for the
// channel (not joined) is left alone too.
func (n *network) superviseOrderers(ctx context.Context, nodes []netspec.Node) error {
	ops, err := fabconn.NewOps(n.l.CACert(netspec.OrdererOrgKey), n.l.OrgAdmin(netspec.OrdererOrgKey))
	if err != nil {
		return err
	}
	timing := timingFor(n.l.Ordering)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	began := time.Now()
	watches := map[string]*raftWatch{}
	restarts := map[string]int{}
	for _, nd := range nodes {
		watches[nd.Name] = newRaftWatch(began, lastStartMarker(nd.LogFile))
	}
	total := 0
	for {
		samples := map[string]raftSample{}
		for _, o := range n.l.OrdererNodes() {
			if b, err := ops.Get(ctx, o, "/metrics"); err == nil {
				samples[o.Name] = parseRaftSample(b, n.l.Channel)
			}
		}
		now := time.Now()
		var stuck []netspec.Node
		for _, nd := range nodes {
			w := watches[nd.Name]
			if w == nil {
				continue
			}
			if _, ok := readPID(nd); !ok {
				return fmt.Errorf("%s exited; last lines of %s:\n%s", nd.Name, nd.LogFile, tail(nd.LogFile, 25))
			}
			s, ok := samples[nd.Name]
			if !ok {
				continue // operations endpoint did not answer this round
			}
			othersLead := false
			for name, o := range samples {
				othersLead = othersLead || (o.isLeader && name != nd.Name)
			}
			rl := readReplayLog(nd.LogFile, w.logFrom)
			switch v := w.observe(now, s, rl, othersLead, timing); v {
			case raftPending:
			case raftStuck:
				if restarts[nd.Name] >= maxStuckRestarts {
					return fmt.Errorf("%s: raft still stuck after %d restarts (Fabric 2.5.0 bug #4199); last lines of %s:\n%s",
						nd.Name, restarts[nd.Name], nd.LogFile, tail(nd.LogFile, 25))
				}
				restarts[nd.Name]++
				total++
				log.Warn("orderer stuck replaying raft config changes (Fabric 2.5.0 bug #4199), restarting",
					"node", nd.Name, "restart", restarts[nd.Name], "no_progress_for", now.Sub(w.changed).Round(10*time.Millisecond),
					"conf_changes_applied", rl.applied, "consenters", s.clusterSize, "leader_elsewhere", othersLead)
				stuck = append(stuck, nd)
			default:
				log.Debug("orderer raft state", "node", nd.Name, "state", v.String(), "took", now.Sub(began).Round(time.Millisecond))
				delete(watches, nd.Name)
			}
		}
		// Restarted together, so that stuck orderers that are needed for
		// a quorum come back at the same time.
		fresh := make([]*raftWatch, len(stuck))
		idx := make([]int, len(stuck))
		for i := range idx {
			idx[i] = i
		}
		err := parallel(idx, func(i int) error {
			nd := stuck[i]
			if _, err := stop(nd, 5*time.Second, true); err != nil {
				return err
			}
			from := logSize(nd.LogFile)
			if err := start(ctx, n.ordererProc(nd)); err != nil {
				return err
			}
			fresh[i] = newRaftWatch(time.Now(), from)
			return nil
		})
		if err != nil {
			return err
		}
		for i, nd := range stuck {
			watches[nd.Name] = fresh[i]
		}
		if len(watches) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var names []string
			for name := range watches {
				names = append(names, name)
			}
			return fmt.Errorf("orderers %v: not live in the raft cluster of %s: %w", names, n.l.Channel, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if total > 0 {
		log.Info("orderers recovered from the raft start-up deadlock", "restarts", total, "took", time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// startMarker begins the line start writes to a node's log before each start.
const startMarker = "==== fabnet start "

// lastStartMarker returns the offset of the last start marker in the last
// MB of logFile, or -1.
func lastStartMarker(logFile string) int64 {
	f, err := os.Open(logFile)
	if err != nil {
		return -1
	}
	defer f.Close()
	var base int64
	if fi, err := f.Stat(); err == nil && fi.Size() > 1<<20 {
		base = fi.Size() - 1<<20
	}
	b, err := io.ReadAll(io.NewSectionReader(f, base, 1<<20))
	if err != nil {
		return -1
	}
	i := bytes.LastIndex(b, []byte(startMarker))
	if i < 0 {
		return -1
	}
	return base + int64(i)
}

func logSize(logFile string) int64 {
	fi, err := os.Stat(logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readReplayLog reads what an orderer logged about its raft replay from
// offset from (its start); the lines come within the first kilobytes.
func readReplayLog(logFile string, from int64) replayLog {
	if from < 0 {
		return replayLog{}
	}
	f, err := os.Open(logFile)
	if err != nil {
		return replayLog{}
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, from, 256<<10))
	// The marker of a later start ends this start's lines; b begins with
	// this start's marker or the newline before it.
	if len(b) > 0 {
		if i := bytes.Index(b[1:], []byte("\n"+startMarker)); i >= 0 {
			b = b[:i+1]
		}
	}
	var rl replayLog
	for line := range bytes.Lines(b) {
		switch {
		case bytes.Contains(line, []byte("newRaft")) && bytes.Contains(line, []byte(" applied: 0,")):
			rl.fromFirst = true
		case bytes.Contains(line, []byte("Applied config change")):
			rl.applied++
		}
	}
	return rl
}
