package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SentinelMaster is the name under which the Sentinels started here
// monitor their master.
const SentinelMaster = "mymaster"

// Sentinel is a master, its replica and the Sentinels watching them, all
// started by a test.
type Sentinel struct {
	Master, Replica *Server
	Sentinels       []*Server
}

// StartSentinel starts a master, a replica in sync with it, and n Sentinels
// (quorum: a majority of them) that know both, and stops them when tb ends.
func StartSentinel(tb testing.TB, n int) *Sentinel {
	tb.Helper()
	RequireServers(tb)
	s := &Sentinel{Master: StartServer(tb)}
	s.Replica = StartReplica(tb, s.Master)
	conf := []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", SentinelMaster, s.Master.Port, n/2+1),
		"sentinel down-after-milliseconds " + SentinelMaster + " 2000",
		"sentinel failover-timeout " + SentinelMaster + " 10000",
	}
	for range n {
		sen, err := startConfigured(serverSpec{sentinel: true, conf: conf})
		if err != nil {
			tb.Fatalf("redistest: start a Sentinel: %v", err)
		}
		sen.stopWith(tb)
		s.Sentinels = append(s.Sentinels, sen)
	}
	// A Sentinel learns of the replica from the master's INFO.
	for _, sen := range s.Sentinels {
		c := sen.Client(tb)
		Eventually(tb, 15*time.Second, "Sentinel "+sen.Addr()+" knows the replica", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			replicas, err := c.Do(ctx, "SENTINEL", "REPLICAS", SentinelMaster).Slice()
			if err != nil {
				return err
			}
			for _, r := range replicas {
				fields := pairs(r)
				if fields["port"] == strconv.Itoa(s.Replica.Port) && fields["flags"] == "slave" {
					return nil
				}
			}
			return fmt.Errorf("replicas: %v", replicas)
		})
	}
	return s
}

// URL returns the URL of the Sentinels for go-redis's ParseFailoverURL:
// redis://<first sentinel>?master_name=mymaster&addr=<second>&...
func (s *Sentinel) URL() string {
	parts := []string{"master_name=" + SentinelMaster}
	for _, sen := range s.Sentinels[1:] {
		parts = append(parts, "addr="+sen.Addr())
	}
	return "redis://" + s.Sentinels[0].Addr() + "?" + strings.Join(parts, "&")
}

// MasterAddr returns the master's address as the first Sentinel tells it.
func (s *Sentinel) MasterAddr(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addr, err := s.Sentinels[0].Client(tb).Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster).StringSlice()
	if err != nil || len(addr) != 2 {
		tb.Fatalf("redistest: SENTINEL GET-MASTER-ADDR-BY-NAME: %v %v", addr, err)
	}
	return net.JoinHostPort(addr[0], addr[1])
}

// FailOver asks the first Sentinel to fail over (SENTINEL FAILOVER) and
// returns once every Sentinel names the replica as the master and the
// replica says it is one. Master and Replica are swapped then.
func (s *Sentinel) FailOver(tb testing.TB) {
	tb.Helper()
	c := s.Sentinels[0].Client(tb)
	Eventually(tb, 10*time.Second, "SENTINEL FAILOVER", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Do(ctx, "SENTINEL", "FAILOVER", SentinelMaster).Err()
	})
	promoted := s.Replica.Client(tb)
	var sentinels []*goredis.Client
	for _, sen := range s.Sentinels {
		sentinels = append(sentinels, sen.Client(tb))
	}
	Eventually(tb, 15*time.Second, "the replica promoted", func() error {
		if err := infoField(promoted, "replication", "role", "master"); err != nil {
			return err
		}
		for _, sen := range sentinels {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			addr, err := sen.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster).StringSlice()
			cancel()
			if err != nil {
				return err
			}
			if len(addr) != 2 || addr[1] != strconv.Itoa(s.Replica.Port) {
				return fmt.Errorf("Sentinel %s names %v", sen.Options().Addr, addr)
			}
		}
		return nil
	})
	s.Master, s.Replica = s.Replica, s.Master
}

// WaitReplica waits until srv says it is a replica in sync with its master
// (Sentinel turns an old master into one some seconds after a failover).
func WaitReplica(tb testing.TB, srv *Server, within time.Duration) {
	tb.Helper()
	c := srv.Client(tb)
	Eventually(tb, within, srv.Addr()+" a replica in sync", func() error {
		if err := infoField(c, "replication", "role", "slave"); err != nil {
			return err
		}
		return infoField(c, "replication", "master_link_status", "up")
	})
}

// pairs turns a RESP2 flat list of fields and values (or a RESP3 map) into
// a map.
func pairs(v any) map[string]string {
	out := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, val := range v {
			out[fmt.Sprint(k)] = fmt.Sprint(val)
		}
	}
	return out
}
