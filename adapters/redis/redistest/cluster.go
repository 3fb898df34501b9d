package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of the clusters started
// here: short, so that a dead node is noticed within the tests' patience.
const ClusterNodeTimeout = 1000 * time.Millisecond

// Cluster is a Redis Cluster of servers started by a test.
type Cluster struct {
	// Nodes are its servers, masters and replicas, in the order of
	// creation (redis-cli makes the first ones masters).
	Nodes []*Server
}

// StartCluster starts a cluster of masters masters, each with one replica,
// and returns once every node sees every slot served and every replica is
// in sync. It is stopped when tb ends.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	RequireServers(tb)
	c, err := startCluster(masters)
	for _, s := range c.Nodes {
		s.stopWith(tb)
	}
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return c
}

var shared3 struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// SharedCluster returns a 3-master, 3-replica cluster started once per test
// binary and stopped when it exits (its directories stay behind in the
// temporary directory), for tests that only read and write: a test that
// kills or fails over nodes starts its own (StartCluster).
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	RequireServers(tb)
	shared3.once.Do(func() { shared3.cluster, shared3.err = startCluster(3) })
	if shared3.err != nil {
		tb.Fatalf("redistest: shared cluster: %v", shared3.err)
	}
	return shared3.cluster
}

func startCluster(masters int) (*Cluster, error) {
	c := &Cluster{}
	conf := []string{"cluster-enabled yes", "cluster-config-file nodes.conf",
		"cluster-node-timeout " + strconv.Itoa(int(ClusterNodeTimeout.Milliseconds())),
		// A replica whose master died a moment ago may take over at once.
		"cluster-replica-validity-factor 0"}
	args := []string{"--cluster", "create"}
	for range 2 * masters {
		s, err := startConfigured(serverSpec{conf: conf, extraPorts: []string{"cluster-port"}})
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	return c, c.waitHealthy(20*time.Second, masters)
}

// URL returns the cluster's URL for go-redis's ParseClusterURL:
// redis://<first node>?addr=<second>&addr=...
func (c *Cluster) URL() string {
	var more []string
	for _, s := range c.Nodes[1:] {
		more = append(more, "addr="+s.Addr())
	}
	return "redis://" + c.Nodes[0].Addr() + "?" + strings.Join(more, "&")
}

// Client returns a cluster client of c, closed when tb ends.
func (c *Cluster) Client(tb testing.TB) *goredis.ClusterClient {
	tb.Helper()
	var addrs []string
	for _, s := range c.Nodes {
		addrs = append(addrs, s.Addr())
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// clusterNode is a line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string
	flags            []string
}

func (n clusterNode) is(flag string) bool {
	for _, f := range n.flags {
		if f == flag {
			return true
		}
	}
	return false
}

// nodes returns what s says of the cluster's nodes.
func (s *Server) nodes(ctx context.Context) ([]clusterNode, error) {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	text, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, clusterNode{id: f[0], addr: addr, master: f[3], flags: strings.Split(f[2], ",")})
	}
	return out, nil
}

// alive returns the nodes that were not killed.
func (c *Cluster) alive() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		select {
		case <-s.exited:
		default:
			out = append(out, s)
		}
	}
	return out
}

// waitHealthy waits until every live node says cluster_state:ok and sees
// the same masters serving all 16384 slots, and at least replicas live
// nodes are replicas in sync with their master.
func (c *Cluster) waitHealthy(within time.Duration, replicas int) error {
	deadline := time.Now().Add(within)
	for {
		err := c.healthy(replicas)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not healthy within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) healthy(replicas int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var want string
	inSync := 0
	for _, s := range c.alive() {
		cl := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		info, err := cl.ClusterInfo(ctx).Result()
		if err == nil && !strings.Contains(info, "cluster_state:ok") {
			err = fmt.Errorf("%s: not cluster_state:ok", s.Addr())
		}
		var slots []goredis.ClusterSlot
		if err == nil {
			slots, err = cl.ClusterSlots(ctx).Result()
		}
		if err == nil {
			var replica bool
			if replica, err = replicaInSync(cl); err != nil {
				err = fmt.Errorf("%s: %v", s.Addr(), err)
			} else if replica {
				inSync++
			}
		}
		_ = cl.Close()
		if err != nil {
			return err
		}
		covered, view := 0, make([]string, 0, len(slots))
		for _, sl := range slots {
			covered += sl.End - sl.Start + 1
			view = append(view, fmt.Sprintf("%d-%d:%s", sl.Start, sl.End, sl.Nodes[0].Addr))
		}
		if covered != 16384 {
			return fmt.Errorf("%s: %d of 16384 slots served", s.Addr(), covered)
		}
		slices.Sort(view)
		slotsView := strings.Join(view, " ")
		if want == "" {
			want = slotsView
		} else if slotsView != want {
			return fmt.Errorf("nodes disagree on the slots: %s, and %s", want, slotsView)
		}
	}
	if inSync < replicas {
		return fmt.Errorf("%d replicas in sync, want %d", inSync, replicas)
	}
	return nil
}

// replicaInSync reports whether c is a replica, and fails when it is one
// not in sync with its master.
func replicaInSync(c *goredis.Client) (bool, error) {
	role, err := Info(c, "replication", "role")
	if err != nil || role != "slave" {
		return false, err
	}
	return true, infoField(c, "replication", "master_link_status", "up")
}

// MasterOf returns the node serving key's slot, and a replica of it.
func (c *Cluster) MasterOf(tb testing.TB, key string) (master, replica *Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	live := c.alive()[0]
	cl := goredis.NewClient(&goredis.Options{Addr: live.Addr(), MaxRetries: -1})
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		tb.Fatalf("redistest: CLUSTER KEYSLOT %s: %v", key, err)
	}
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		tb.Fatalf("redistest: CLUSTER SLOTS: %v", err)
	}
	var masterID string
	for _, sl := range slots {
		if int64(sl.Start) <= slot && slot <= int64(sl.End) {
			master, masterID = c.byAddr(sl.Nodes[0].Addr), sl.Nodes[0].ID
		}
	}
	nodes, err := live.nodes(ctx)
	if err != nil {
		tb.Fatalf("redistest: CLUSTER NODES: %v", err)
	}
	for _, n := range nodes {
		if n.master == masterID && !n.is("fail") {
			replica = c.byAddr(n.addr)
		}
	}
	if master == nil || replica == nil {
		tb.Fatalf("redistest: slot %d of %s: no master with a replica in %v", slot, key, nodes)
	}
	return master, replica
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// FailOver makes replica the master of its master's slots with CLUSTER
// FAILOVER FORCE, the way an operator does when the master is dead and
// cannot agree to hand over, and waits until the live nodes agree on it.
func (c *Cluster) FailOver(tb testing.TB, replica *Server) {
	tb.Helper()
	cl := replica.Client(tb)
	Eventually(tb, 10*time.Second, "CLUSTER FAILOVER FORCE on "+replica.Addr(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if role, err := Info(cl, "replication", "role"); err == nil && role == "master" {
			return nil // promoted already (automatic failover)
		}
		if err := cl.Do(ctx, "CLUSTER", "FAILOVER", "FORCE").Err(); err != nil {
			return err
		}
		return infoField(cl, "replication", "role", "master")
	})
	if err := c.waitPromoted(replica, 10*time.Second); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
}

// waitPromoted waits until every live node sees replica as a master
// serving slots, and the cluster is healthy.
func (c *Cluster) waitPromoted(replica *Server, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := c.seenAsMaster(replica)
		if err == nil {
			err = c.healthy(0)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not the master everywhere within %s: %v", replica.Addr(), within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) seenAsMaster(s *Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, live := range c.alive() {
		nodes, err := live.nodes(ctx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.addr == s.Addr() && !n.is("master") {
				return fmt.Errorf("%s sees %s as %v", live.Addr(), s.Addr(), n.flags)
			}
		}
	}
	return nil
}
