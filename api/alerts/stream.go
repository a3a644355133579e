package alerts

import (
	"sync"

	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

// StreamBuffer is how many anomalies a live listener may lag behind before
// it is dropped.
const StreamBuffer = 256

type listener struct {
	scope *readmodel.Scope
	ch    chan trace.Anomaly
}

// broker fans new anomalies out to the live listeners.
type broker struct {
	mu        sync.Mutex
	next      int
	listeners map[int]*listener
}

// Stream returns a channel of the new anomalies scope sees (nil: all), as
// the read model applies them, and a function to stop listening. The
// channel is closed when the listener is dropped for lagging
// StreamBuffer anomalies behind, or after stop.
func (s *Service) Stream(scope *readmodel.Scope) (<-chan trace.Anomaly, func()) {
	b := &s.broker
	l := &listener{scope: scope, ch: make(chan trace.Anomaly, StreamBuffer)}
	b.mu.Lock()
	id := b.next
	b.next++
	b.listeners[id] = l
	b.mu.Unlock()
	return l.ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.listeners[id]; ok {
			delete(b.listeners, id)
			close(l.ch)
		}
	}
}

// Listeners returns how many live listeners there are.
func (s *Service) Listeners() int {
	s.broker.mu.Lock()
	defer s.broker.mu.Unlock()
	return len(s.broker.listeners)
}

// publish hands every listener the anomalies it sees, without blocking.
func (b *broker) publish(created []readmodel.NewAnomaly) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, l := range b.listeners {
		for i := range created {
			if !created[i].VisibleTo(l.scope) {
				continue
			}
			select {
			case l.ch <- created[i].Anomaly:
			default: // lagging: drop it, it reconnects with Last-Event-ID
				delete(b.listeners, id)
				close(l.ch)
			}
			if _, ok := b.listeners[id]; !ok {
				break
			}
		}
	}
}
