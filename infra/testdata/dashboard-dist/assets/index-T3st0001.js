console.log("infra test build")
