package deploy

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/awstest"
	"buildledger/internal/ddb"
)

// TestTemplateTablesAreAccepted creates the template's tables, as the template declares
// them, in DynamoDB Local under a fresh prefix: DynamoDB itself accepts the definitions.
func TestTemplateTablesAreAccepted(t *testing.T) {
	tpl := loadTemplate(t)
	client := awstest.DynamoDB(t)
	params := tpl.defaults()
	params["Prefix"] = awstest.Prefix(t, "deploy-tpl")
	ctx := context.Background()
	t.Cleanup(func() { awstest.DeleteTables(context.Background(), t, client, params["Prefix"]) })
	for _, id := range tpl.ofType("AWS::DynamoDB::Table") {
		in, err := tableInput(tpl, id, params)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if _, err := ddb.CreateTable(ctx, client, in); err != nil {
			t.Errorf("%s: DynamoDB refuses the template's table: %v", id, err)
		}
	}
}

// tableInput builds the CreateTable request of template table id.
func tableInput(tpl template, id string, params map[string]string) (*dynamodb.CreateTableInput, error) {
	props := tpl.Resources[id].Properties
	name, err := tpl.nameOf(id, params)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingMode(fmt.Sprint(props["BillingMode"])),
		KeySchema:   keySchema(props["KeySchema"]),
	}
	for _, d := range asList(props["AttributeDefinitions"]) {
		m := asMap(d)
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(fmt.Sprint(m["AttributeName"])),
			AttributeType: ddbtypes.ScalarAttributeType(fmt.Sprint(m["AttributeType"])),
		})
	}
	for _, g := range asList(props["GlobalSecondaryIndexes"]) {
		m := asMap(g)
		proj := asMap(m["Projection"])
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(fmt.Sprint(m["IndexName"])),
			KeySchema: keySchema(m["KeySchema"]),
			Projection: &ddbtypes.Projection{
				ProjectionType:   ddbtypes.ProjectionType(fmt.Sprint(proj["ProjectionType"])),
				NonKeyAttributes: stringList(proj["NonKeyAttributes"]),
			},
		})
	}
	return in, nil
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var out []ddbtypes.KeySchemaElement
	for _, k := range asList(v) {
		m := asMap(k)
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(fmt.Sprint(m["AttributeName"])),
			KeyType:       ddbtypes.KeyType(fmt.Sprint(m["KeyType"])),
		})
	}
	return out
}
