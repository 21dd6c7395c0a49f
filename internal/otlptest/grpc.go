package otlptest

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // exporters configured with gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// NewGRPCSink starts an OTLP/gRPC metrics receiver on 127.0.0.1, a real
// grpc-go server answering as SetReply says: Code and RetryAfter for a
// refusal, Rejected for a partial success, Reset to keep the export and
// then break the connection without an answer. It is stopped when the
// test ends. URL, Down, Up and the readers work as for NewSink.
func NewGRPCSink(t testing.TB) *Sink {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("otlptest: listen: %v", err)
	}
	s := &Sink{grpc: grpc.NewServer()}
	s.ln = &switchListener{Listener: inner, addr: inner.Addr().String(), conns: map[*trackedConn]struct{}{}}
	s.ln.cond = sync.NewCond(&s.ln.mu)
	colmetricpb.RegisterMetricsServiceServer(s.grpc, grpcService{s: s})
	go func() { _ = s.grpc.Serve(s.ln) }()
	t.Cleanup(s.grpc.Stop)
	return s
}

type grpcService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	s *Sink
}

func (g grpcService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h := http.Header{}
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	host := ""
	if a := md.Get(":authority"); len(a) > 0 {
		host = a[0]
	}
	path, _ := grpc.Method(ctx)
	rep := g.s.arrive(Request{Path: path, Host: host, Header: h, Metrics: req, Size: proto.Size(req)},
		func(rep Reply) bool { return rep.Code == codes.OK })
	switch {
	case rep.Reset:
		// The export was read whole; the client learns nothing of its fate.
		g.s.ln.resetConns()
		return nil, status.Error(codes.Unavailable, "reset by the test")
	case rep.Code != codes.OK:
		st := status.New(rep.Code, "refused by the test")
		if secs, err := strconv.Atoi(rep.RetryAfter); err == nil {
			if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
				st = withInfo
			}
		}
		return nil, st.Err()
	}
	out := &colmetricpb.ExportMetricsServiceResponse{}
	if rep.Rejected > 0 {
		out.PartialSuccess = &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: rep.Rejected, ErrorMessage: "rejected by the test"}
	}
	return out, nil
}

// trackedConn is an accepted connection the listener forgets when it is
// closed.
type trackedConn struct {
	net.Conn
	l    *switchListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// track wraps c so that resetConns can close it, when the listener
// tracks connections.
func (l *switchListener) track(c net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		return c
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc
}

// resetConns closes every tracked connection with a TCP RST.
func (l *switchListener) resetConns() {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}
