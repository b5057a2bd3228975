console.log("test dist asset");
