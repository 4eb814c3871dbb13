package memory_test

import (
	"testing"

	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

func TestConformance(t *testing.T) {
	projectionstest.Run(t, func(t *testing.T) projections.Store { return memory.New() })
}

func TestReplay(t *testing.T) {
	t.Parallel()
	es := esmemory.New()
	projectionstest.RunReplay(t, projectionstest.Backend{Store: memory.New(), Events: es, Scanner: es}, 3000)
}

func TestReplay_given_no_scanner_then_replays_from_ReadAll(t *testing.T) {
	t.Parallel()
	projectionstest.RunReplay(t, projectionstest.Backend{Store: memory.New(), Events: esmemory.New()}, 1000)
}

func TestReplayWhileLive(t *testing.T) {
	t.Parallel()
	projectionstest.RunReplayWhileLive(t, projectionstest.Backend{Store: memory.New(), Events: esmemory.New()}, 2000)
}
