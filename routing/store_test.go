package routing_test

import (
	"testing"

	"github.com/careline/careline/routing"
	"github.com/careline/careline/routing/routingtest"
)

func TestMemoryStoreContract(t *testing.T) {
	t.Parallel()
	routingtest.StoreContract(t, func(t *testing.T) routing.Store { return routing.NewMemoryStore() })
}
