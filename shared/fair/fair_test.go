package fair

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// order pushes each lane's items (a string per lane, one item per letter), then pops everything.
func order(weights []int, lanes ...string) string {
	q := New[string](weights)
	for i, items := range lanes {
		for _, c := range items {
			q.Push(i, string(c))
		}
	}
	var b strings.Builder
	for {
		v, _, ok := q.TryPop()
		if !ok {
			return b.String()
		}
		b.WriteString(v)
	}
}

func TestRoundRobinOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []int
		lanes   []string
		want    string
	}{
		{"one lane is FIFO", nil, []string{"abcd"}, "abcd"},
		{"equal lanes alternate", []int{1, 1}, []string{"AAAAA", "bbb"}, "AbAbAbAA"},
		{"a flood waits its turn", []int{1, 1, 1}, []string{"AAAAAAAA", "b", "c"}, "AbcAAAAAAA"},
		{"empty lanes are skipped", []int{1, 1, 1}, []string{"", "bb", ""}, "bb"},
		{"weights give shares", []int{3, 1}, []string{"AAAAAAAA", "bbbb"}, "AAAbAAAbAAbb"},
		{"weights below 1 count as 1", []int{0, -2}, []string{"AA", "bb"}, "AbAb"},
		{"missing weights are 1", []int{2}, []string{"AAAA"}, "AAAA"},
		{"5/3/2 shares", []int{5, 3, 2}, []string{strings.Repeat("A", 10), strings.Repeat("b", 6), strings.Repeat("c", 4)},
			"AAAAAbbbccAAAAAbbbcc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := order(tc.weights, tc.lanes...); got != tc.want {
				t.Errorf("order = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPushAfterDrainKeepsTurn(t *testing.T) {
	q := New[int]([]int{1, 1})
	q.Push(0, 1)
	q.Push(0, 2)
	if v, i, _ := q.TryPop(); v != 1 || i != 0 {
		t.Fatalf("first pop = %d from lane %d", v, i)
	}
	// Lane 1 arrives while lane 0 still holds an item: it is next.
	q.Push(1, 10)
	if v, i, _ := q.TryPop(); v != 10 || i != 1 {
		t.Fatalf("second pop = %d from lane %d, want 10 from lane 1", v, i)
	}
}

func TestConcurrentConsumersTakeEverythingOnce(t *testing.T) {
	q := New[int]([]int{1, 2, 3})
	const perLane = 2000
	var producers, consumers sync.WaitGroup
	for lane := range 3 {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for i := range perLane {
				q.Push(lane, lane*perLane+i)
			}
		}()
	}
	seen := make([]bool, 3*perLane)
	var mu sync.Mutex
	for range 8 {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for {
				v, lane, ok := q.Pop()
				if !ok {
					return
				}
				mu.Lock()
				if seen[v] {
					t.Errorf("%d popped twice", v)
				}
				seen[v] = true
				if lane != v/perLane {
					t.Errorf("%d popped from lane %d", v, lane)
				}
				mu.Unlock()
			}
		}()
	}
	producers.Wait()
	q.Close()
	consumers.Wait()
	for v, ok := range seen {
		if !ok {
			t.Fatalf("%d never popped", v)
		}
	}
}

func TestCloseEndsWaitingPops(t *testing.T) {
	q := New[int](nil)
	done := make(chan bool)
	go func() { _, _, ok := q.Pop(); done <- ok }()
	q.Close()
	if ok := <-done; ok {
		t.Fatal("Pop on a closed, empty queue reported an item")
	}
}

func ExampleQueue() {
	q := New[string]([]int{1, 1})
	for _, v := range []string{"a1", "a2", "a3"} {
		q.Push(0, v)
	}
	q.Push(1, "b1")
	for {
		v, lane, ok := q.TryPop()
		if !ok {
			break
		}
		fmt.Println(lane, v)
	}
	// Output:
	// 0 a1
	// 1 b1
	// 0 a2
	// 0 a3
}
