package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/oidcauth"
	"buildledger/internal/oidctest"
)

// emulatorSenderID is the SenderId the local SQS emulator stamps on every message.
const emulatorSenderID = "000000000000"

func TestWorker_GivenCommandsWithSpoofedSenderAndTokens_ThenTheSQSSenderAndVerifiedClaimsAreRecordedAndNoTokenStoredOrLogged(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sender")
	iss := oidctest.New(t)
	verifier, err := oidcauth.New(oidcauth.Config{Issuers: []string{iss.URL()}, Audience: "buildledger"})
	if err != nil {
		t.Fatal(err)
	}
	s.startWorker(t, nil, func(c *handlers.WorkerConfig) { c.Commands.Identities = verifier })

	good := iss.Mint(t, oidctest.Token{Claims: oidctest.GitHubClaims()})
	expired := iss.Mint(t, oidctest.Token{Expiry: time.Now().Add(-time.Hour), IssuedAt: time.Now().Add(-2 * time.Hour)})
	send := func(id string, cmd domain.Command, token string) {
		body, err := envelope.Marshal(cmd, envelope.Header{ID: id, IDToken: token})
		if err != nil {
			t.Fatal(err)
		}
		// Every message claims another sender through the attribute the worker uses
		// internally, and through one named like SQS's.
		_, err = s.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(s.ep.CommandsQueueURL), MessageBody: aws.String(string(body)),
			MessageGroupId: aws.String(cmd.StreamID()), MessageDeduplicationId: aws.String(id),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"buildledger_sender_id": {DataType: aws.String("String"), StringValue: aws.String("arn:aws:iam::999999999999:root")},
				"SenderId":              {DataType: aws.String("String"), StringValue: aws.String("999999999999")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	send("plain", domain.Lock{Env: "a", User: "alice"}, "")
	send("signed", domain.Lock{Env: "b", User: "alice"}, good)
	send("expired", domain.Lock{Env: "c", User: "alice"}, expired)
	send("malformed", domain.Lock{Env: "d", User: "alice"}, "not.a.token")
	for _, id := range []string{"plain", "signed", "expired", "malformed"} {
		waitFor(t, 30*time.Second, "outcome of "+id, func() bool {
			_, err := s.events.Outcome(context.Background(), id)
			return err == nil
		})
	}

	claims := eventstore.Identity{Issuer: iss.URL(), Subject: "repo:org/api:ref:refs/heads/main", Repository: "org/api",
		Ref: "refs/heads/main", Workflow: "deploy", RunID: "4242", Actor: "octocat"}
	for id, want := range map[string]struct {
		stream string
		who    eventstore.Identity
	}{"plain": {"lock:a", eventstore.Identity{}}, "signed": {"lock:b", claims}} {
		o := s.outcome(t, id)
		if o.Status != eventstore.OutcomeAccepted || o.SenderID != emulatorSenderID || o.Identity != want.who {
			t.Errorf("%s: outcome %+v, want accepted, sender %s, identity %+v", id, o, emulatorSenderID, want.who)
		}
		for _, r := range s.load(t, want.stream) {
			if r.Metadata.SenderID != emulatorSenderID || r.Metadata.Identity != want.who {
				t.Errorf("%s: %s@%d metadata %+v", id, r.Stream, r.Version, r.Metadata)
			}
		}
	}
	for _, id := range []string{"expired", "malformed"} {
		o := s.outcome(t, id)
		if o.Status != eventstore.OutcomeRejected || o.Code != eventstore.RejectionUnauthenticated || o.SenderID != emulatorSenderID {
			t.Errorf("%s: outcome %+v, want rejected unauthenticated from %s", id, o, emulatorSenderID)
		}
	}
	for _, stream := range []string{"lock:c", "lock:d"} {
		if recs := s.load(t, stream); len(recs) != 0 {
			t.Errorf("%s: %d events appended by a refused command", stream, len(recs))
		}
	}

	// Nothing stored or logged holds a token: every item of both tables, and the logs.
	everything := s.logs.String() + scanAll(t, s, s.names.EventsTable) + scanAll(t, s, s.names.CommandsTable)
	for name, tok := range map[string]string{"valid": good, "expired": expired} {
		if sig := tok[strings.LastIndex(tok, ".")+1:]; strings.Contains(everything, sig) {
			t.Errorf("the %s token's signature is stored or logged", name)
		}
	}
	if strings.Contains(everything, "999999999999") {
		t.Error("a sender-supplied SenderId attribute was recorded")
	}
}

// scanAll returns every item of table, printed.
func scanAll(t *testing.T, s *stack, table string) string {
	t.Helper()
	var b strings.Builder
	p := dynamodb.NewScanPaginator(s.app.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			fmt.Fprintf(&b, "%#v\n", item)
			for _, v := range item {
				fmt.Fprintf(&b, "%v\n", v)
			}
		}
	}
	return b.String()
}
