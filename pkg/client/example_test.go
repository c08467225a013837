package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tars-ops/tarsctl/pkg/client"
)

// fakeOrchestrator answers like the orchestration agent, for the examples.
func fakeOrchestrator() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/agents", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(client.AgentList{Count: 1, Agents: []client.Agent{{
			ID: "cartpole-1", Status: client.AgentIdle, Episodes: 200, MeanReward: 412.5,
		}}})
	})
	mux.HandleFunc("POST /api/agents/{id}/train", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(client.ErrorBody{Error: "Conflict", Message: "agent is already training"})
	})
	mux.HandleFunc("PUT /api/agents/{id}/hyperparameters", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(client.ErrorBody{Error: "Bad Request", Message: `request body: unknown field "lr"`})
	})
	mux.HandleFunc("POST /api/sync", func(w http.ResponseWriter, r *http.Request) {
		var req client.SyncRequest
		json.NewDecoder(r.Body).Decode(&req)
		json.NewEncoder(w).Encode(client.Sync{ID: "sync-1", AgentID: req.AgentID, Status: client.SyncApplied, LatencyMS: 3.2})
	})
	return httptest.NewServer(mux)
}

// List the orchestrator's agents with an access token from dashboard-api's
// /auth/login.
func ExampleClient_ListAgents() {
	srv := fakeOrchestrator() // in real use: http://127.0.0.1:8094
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithToken("ACCESS_TOKEN"))
	if err != nil {
		panic(err)
	}
	agents, err := c.ListAgents(context.Background())
	if err != nil {
		panic(err)
	}
	for _, a := range agents {
		fmt.Printf("%s %s episodes=%d mean_reward=%.1f\n", a.ID, a.Status, a.Episodes, a.MeanReward)
	}
	// Output: cartpole-1 idle episodes=200 mean_reward=412.5
}

// A second training run of a busy agent is a conflict.
func ExampleClient_Train() {
	srv := fakeOrchestrator()
	defer srv.Close()
	c, _ := client.New(srv.URL)
	_, err := c.Train(context.Background(), "cartpole-1", client.TrainRequest{Episodes: 50})
	if errors.Is(err, client.ErrConflict) {
		fmt.Println("busy, try later")
	}
	// Output: busy, try later
}

// Hand HyperSync (port 8098) hyperparameters that an AutoML search
// accepted, and wait up to 5 s for them to reach the agent.
func ExampleClient_SubmitSync() {
	srv := fakeOrchestrator() // in real use: http://127.0.0.1:8098
	defer srv.Close()
	c, _ := client.New(srv.URL)
	lr := 0.3
	s, err := c.SubmitSync(context.Background(), client.SyncRequest{
		AgentID:         "cartpole-1",
		Hyperparameters: client.HyperparameterUpdate{LearningRate: &lr},
		Source:          "automl",
	}, 5*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.AgentID, s.Status)
	// Output: cartpole-1 applied
}

// Every daemon answers an error with an ErrorBody; the client returns it
// as an *APIError whose Message is the body's message.
func ExampleErrorBody() {
	srv := fakeOrchestrator()
	defer srv.Close()
	c, _ := client.New(srv.URL)
	discount := 0.9
	_, err := c.SetHyperparameters(context.Background(), "cartpole-1", client.HyperparameterUpdate{Discount: &discount})
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && errors.Is(err, client.ErrBadRequest) {
		fmt.Println(apiErr.StatusCode, apiErr.Title+":", apiErr.Message)
	}
	// Output: 400 Bad Request: request body: unknown field "lr"
}
