package handlers

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestSenderUnmarshaler_GivenASpoofedAttribute_ThenOnlySQSsSenderIdCounts(t *testing.T) {
	spoof := map[string]sqstypes.MessageAttributeValue{
		metaSenderID: {DataType: aws.String("String"), StringValue: aws.String("arn:aws:iam::999999999999:root")},
	}
	tests := []struct {
		name   string
		system map[string]string
		want   string
	}{
		{"given SQS's SenderId then it", map[string]string{"SenderId": "AIDAEXAMPLE"}, "AIDAEXAMPLE"},
		{"given no SenderId then none, not the attribute", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := senderUnmarshaler{}.Unmarshal(&sqstypes.Message{
				MessageId: aws.String("m1"), Body: aws.String("{}"), MessageAttributes: spoof, Attributes: tt.system,
			})
			if err != nil {
				t.Fatal(err)
			}
			var env Envelope
			if err := (envelopeMarshaler{}).Unmarshal(msg, &env); err != nil {
				t.Fatal(err)
			}
			if env.SenderID != tt.want {
				t.Errorf("sender %q, want %q", env.SenderID, tt.want)
			}
		})
	}
}
