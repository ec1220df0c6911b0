module crowdwiz.local/cwdgateway

go 1.17
